# The Windows installer: NSIS through CPack (cpack -G NSIS in a Windows build directory). It
# packages only the "windows" install component, a layout of its own under
# $PROGRAMFILES64\Karpacz (the Unix install rules keep their sbin/etc/share tree):
#   karpacz.exe, karpacz-passwd.exe, karpacz-core.dll and the libraries' DLLs
#   modules\mod_example.dll      (found as <exe dir>/modules)
#   karpacz.yaml, mime.types     (the default configuration: port 8080, web root www)
#   www\                         (the default web root)
# The installer registers and starts the service (karpacz -k install, -k start); the
# uninstaller stops and removes it before deleting the files. The stub is 64-bit Unicode
# (Target amd64-unicode): NSIS's default 32-bit stub does not run on a 64-bit-only system.
include_guard(GLOBAL)

set(KZ_WIN_COMPONENT windows)
install(TARGETS karpacz karpacz-passwd RUNTIME DESTINATION . COMPONENT ${KZ_WIN_COMPONENT})
install(TARGETS kzcore RUNTIME DESTINATION . COMPONENT ${KZ_WIN_COMPONENT}
        ARCHIVE DESTINATION lib COMPONENT windows-dev)
install(TARGETS mod_example LIBRARY DESTINATION modules COMPONENT ${KZ_WIN_COMPONENT})
file(GLOB KZ_WIN_DLLS ${KZ_WIN_PREFIX}/bin/*.dll)
install(FILES ${KZ_WIN_DLLS} DESTINATION . COMPONENT ${KZ_WIN_COMPONENT})
install(FILES ${CMAKE_SOURCE_DIR}/conf/karpacz.yaml ${CMAKE_SOURCE_DIR}/conf/mime.types
        DESTINATION . COMPONENT ${KZ_WIN_COMPONENT})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/conf/www/ DESTINATION www COMPONENT ${KZ_WIN_COMPONENT})

set(CPACK_GENERATOR NSIS)
# The NSIS commands below hold quotes and '$': written to CPackConfig.cmake as they are.
set(CPACK_VERBATIM_VARIABLES ON)
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};karpacz;${KZ_WIN_COMPONENT};/")
set(CPACK_PACKAGE_NAME karpacz)
set(CPACK_PACKAGE_VENDOR "Karpacz")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_INSTALL_DIRECTORY Karpacz)
set(CPACK_PACKAGE_INSTALL_REGISTRY_KEY Karpacz)
set(CPACK_NSIS_PACKAGE_NAME "Karpacz ${PROJECT_VERSION}")
set(CPACK_NSIS_DISPLAY_NAME "Karpacz web server")
set(CPACK_NSIS_INSTALL_ROOT "$PROGRAMFILES64")
set(CPACK_NSIS_DEFINES "Target amd64-unicode")
set(CPACK_NSIS_ENABLE_UNINSTALL_BEFORE_INSTALL ON)
set(CPACK_NSIS_EXTRA_INSTALL_COMMANDS
    "ExecWait '\"$INSTDIR\\karpacz.exe\" -k install -c \"$INSTDIR\\karpacz.yaml\"'
  ExecWait '\"$INSTDIR\\karpacz.exe\" -k start'")
set(CPACK_NSIS_EXTRA_UNINSTALL_COMMANDS
    "ExecWait '\"$INSTDIR\\karpacz.exe\" -k stop'
  ExecWait '\"$INSTDIR\\karpacz.exe\" -k uninstall'")
