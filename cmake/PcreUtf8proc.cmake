# PCRE2 (8-bit) and utf8proc as sg::pcre2 and sg::utf8proc. Through pkg-config where there is one
# (Debian); otherwise by header and library search under CMAKE_PREFIX_PATH, for a machine that has
# no pkg-config and gets these libraries unpacked into a prefix (scripts/device/pack_deps.sh).
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PCRE2 QUIET IMPORTED_TARGET libpcre2-8)
  pkg_check_modules(UTF8PROC QUIET IMPORTED_TARGET libutf8proc)
endif()

function(_sg_library_target target var pkg_target header library)
  if(TARGET ${pkg_target})
    add_library(${target} INTERFACE IMPORTED)
    target_link_libraries(${target} INTERFACE ${pkg_target})
    return()
  endif()
  find_path(SG_${var}_INCLUDE ${header})
  find_library(SG_${var}_LIBRARY ${library})
  if(NOT SG_${var}_INCLUDE OR NOT SG_${var}_LIBRARY)
    message(FATAL_ERROR "${target}: neither pkg-config nor CMAKE_PREFIX_PATH finds ${header} and lib${library} "
                        "(Debian: scripts/setup.sh; elsewhere: scripts/device/pack_deps.sh)")
  endif()
  add_library(${target} UNKNOWN IMPORTED)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION ${SG_${var}_LIBRARY}
                                             INTERFACE_INCLUDE_DIRECTORIES ${SG_${var}_INCLUDE})
endfunction()

_sg_library_target(sg::pcre2 PCRE2 PkgConfig::PCRE2 pcre2.h pcre2-8)
_sg_library_target(sg::utf8proc UTF8PROC PkgConfig::UTF8PROC utf8proc.h utf8proc)
