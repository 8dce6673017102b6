# Writes OUT = a header defining WHATIF_INTERFACE_HASH: the first 16 hex digits of the SHA-256 of
# the public headers (relative path and content, in sorted order). Run at build time with
#   cmake -DOUT=... -DROOTS="dir1;dir2" -P InterfaceHash.cmake
set(payload "")
foreach(root IN LISTS ROOTS)
  file(GLOB_RECURSE headers RELATIVE "${root}" "${root}/*.hpp")
  list(SORT headers)
  foreach(h IN LISTS headers)
    if(h STREQUAL "whatif/interface_hash.hpp")
      continue()
    endif()
    file(READ "${root}/${h}" content)
    string(APPEND payload "${h}\n${content}\n")
  endforeach()
endforeach()
string(SHA256 digest "${payload}")
string(SUBSTRING "${digest}" 0 16 digest)
set(text "#pragma once\n// Generated at build time from the public headers; plugins built against other headers are refused.\n#define WHATIF_INTERFACE_HASH \"${digest}\"\n")
# Rewritten only when the content changes, so dependants are not rebuilt for nothing.
file(CONFIGURE OUTPUT "${OUT}" CONTENT "${text}" @ONLY)
