# Writes OUT = a header with the git commit of SOURCE_DIR.
execute_process(COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                RESULT_VARIABLE status)
if(NOT status EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
endif()
set(text "#pragma once\n#define WHATIF_GIT_COMMIT \"${commit}\"\n")
# Rewritten only when the content changes, so dependants are not rebuilt for nothing.
file(CONFIGURE OUTPUT "${OUT}" CONTENT "${text}" @ONLY)
