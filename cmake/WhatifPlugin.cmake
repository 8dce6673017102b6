# whatif_add_plugin(NAME SOURCES a.cpp b.cpp [LIBRARIES ...] [NO_INSTALL])
#
# Builds one plugin: a shared library `libwhatif-plugin-NAME.so` linked against whatif::core.
# In-tree it lands in the build's plugin folder; out-of-tree in the current binary folder (or
# WHATIF_PLUGIN_OUTPUT_DIR when set). Point `whatif --plugin-path` or WHATIF_PLUGIN_PATH at it.
function(whatif_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "whatif_add_plugin(${name}): no SOURCES")
  endif()
  set(target whatif-plugin-${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE whatif::core ${ARG_LIBRARIES})
  set(out "${CMAKE_CURRENT_BINARY_DIR}")
  if(WHATIF_PLUGIN_OUTPUT_DIR)
    set(out "${WHATIF_PLUGIN_OUTPUT_DIR}")
  endif()
  # Installed plugins live in <prefix>/lib/whatif/plugins and find whatif's libraries two folders up.
  set_target_properties(${target} PROPERTIES PREFIX "lib" LIBRARY_OUTPUT_DIRECTORY "${out}"
                                             CXX_VISIBILITY_PRESET hidden INSTALL_RPATH "$ORIGIN;$ORIGIN/../..")
  if(TARGET whatif_pch)
    target_precompile_headers(${target} REUSE_FROM whatif_pch)
  endif()
  if(WHATIF_INSTALL_PLUGIN_DIR AND NOT ARG_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${WHATIF_INSTALL_PLUGIN_DIR})
  endif()
endfunction()
