# TapegradInstall: what `cmake --install` puts under the prefix.
#
#   lib/libtapegrad.so*, lib/libtapegrad.a       both libraries
#   include/tapegrad/tapegrad.h, tensor/*.h, ... the public headers, in their folders,
#                                                and the op author's (tensor/kernel.h,
#                                                autograd/kernel.h)
#   lib/cmake/tapegrad/                          the CMake package: find_package(tapegrad)
#                                                gives tapegrad::tapegrad (shared) and
#                                                tapegrad::tapegrad_static
#   lib/pkgconfig/tapegrad.pc                    pkg-config: the shared library with an rpath
#                                                to lib/, so programs run from any prefix;
#                                                --static links the whole program statically
#                                                (-static: libtapegrad.a and every dependency's .a)
#
# Users compile with -I<prefix>/include/tapegrad (the package and the .pc
# file say so) and write #include <tapegrad.h>; a new op's author adds
# #include <tensor/kernel.h> or <autograd/kernel.h>.

include(CMakePackageConfigHelpers)

set(TAPEGRAD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)

# ---- Headers: tapegrad.h, the op author's headers, and every header they
# reach through #include "..." ---------------------------------------------------

function(tapegrad_public_headers out)
  set(pending tapegrad.h tensor/kernel.h autograd/kernel.h)
  set(found)
  while(pending)
    list(POP_FRONT pending header)
    if(header IN_LIST found OR NOT EXISTS ${PROJECT_SOURCE_DIR}/${header})
      continue()
    endif()
    list(APPEND found ${header})
    file(STRINGS ${PROJECT_SOURCE_DIR}/${header} lines REGEX "^#include \"[^\"]+\"")
    foreach(line ${lines})
      string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" included "${line}")
      list(APPEND pending ${included})
    endforeach()
  endwhile()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

tapegrad_public_headers(TAPEGRAD_INSTALLED_HEADERS)
foreach(header ${TAPEGRAD_INSTALLED_HEADERS})
  get_filename_component(folder ${header} DIRECTORY)
  install(FILES ${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapegrad/${folder})
endforeach()

# ---- Libraries and the CMake package ----------------------------------------

install(TARGETS tapegrad tapegrad_static EXPORT tapegradTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT tapegradTargets NAMESPACE tapegrad:: DESTINATION ${TAPEGRAD_CMAKE_DIR})

configure_package_config_file(cmake/tapegradConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tapegradConfig.cmake INSTALL_DESTINATION ${TAPEGRAD_CMAKE_DIR})
# 0.x releases may change the API between minor versions.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/tapegradConfig.cmake
  ${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
  cmake/FindBLIS.cmake
  DESTINATION ${TAPEGRAD_CMAKE_DIR})

# ---- pkg-config ----------------------------------------------------------------
# The prefix is found from the .pc file's own place, so the file stays right
# when installed with `cmake --install --prefix`. Libs gives an rpath to the
# library's directory, so a program finds libtapegrad.so without
# LD_LIBRARY_PATH wherever the prefix is. pkg-config --static can only add
# flags after Libs' -ltapegrad, which the linker resolves to the shared
# library; Libs.private's -static (which gcc hands the linker before any
# library) makes it take libtapegrad.a, and the dependencies' .a files.

file(RELATIVE_PATH TAPEGRAD_PC_PREFIX ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" TAPEGRAD_PC_PREFIX "${TAPEGRAD_PC_PREFIX}")
# Debian ships BLIS without a .pc file: name its library directly.
get_filename_component(blis_dir ${BLIS_LIBRARY} DIRECTORY)
get_filename_component(blis_name ${BLIS_LIBRARY} NAME_WE)
string(REGEX REPLACE "^lib" "" blis_name ${blis_name})
set(TAPEGRAD_PC_BLIS "-l${blis_name}")
if(NOT blis_dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
  set(TAPEGRAD_PC_BLIS "-L${blis_dir} ${TAPEGRAD_PC_BLIS}")
endif()
# dist/ (with MPI) is left out of the .pc file: a static program links
# dist's objects only when it calls tg_dist_, and then adds Open MPI's own
# flags (pkg-config ompi-c); Debian has no static libmpi to link fully
# static programs with.
configure_file(cmake/tapegrad.pc.in ${PROJECT_BINARY_DIR}/tapegrad.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tapegrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- The tests: install into a temporary prefix and build programs against it --

if(TAPEGRAD_BUILD_TESTS)
  set(consumer_flags "")
  if(TAPEGRAD_SANITIZE) # the installed libraries need the sanitizer runtime
    set(consumer_flags "-fsanitize=address,undefined")
  endif()
  add_test(NAME install_and_use
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/install/check_install.sh
            ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR}/tests/install "${consumer_flags}")
  set_tests_properties(install_and_use PROPERTIES TIMEOUT 120)
  add_test(NAME readme_first_program
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/install/check_first_program.sh
            ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} "${consumer_flags}")
  set_tests_properties(readme_first_program PROPERTIES TIMEOUT 60)
endif()
