# `cmake --install build --prefix P`: headers, the layer libraries, a CMake package
# (find_package(recur) -> recur::recur with its dependencies) and a pkg-config file (recur.pc).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/recur DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ${RECUR_LAYERS} recur EXPORT recurTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS recur_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT recurTargets NAMESPACE recur:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/recur)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/recurConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/recurConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/recur)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/recurConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/recurConfig.cmake ${PROJECT_BINARY_DIR}/recurConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/recur)

# pkg-config: static libraries, so every layer is listed, top layer first (the order a linker
# resolves them in).
set(RECUR_PC_LIBS "")
set(reversed ${RECUR_LAYERS})
list(REVERSE reversed)
foreach(layer ${reversed})
  string(APPEND RECUR_PC_LIBS " -l${layer}")
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/recur.pc.in ${PROJECT_BINARY_DIR}/recur.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/recur.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
