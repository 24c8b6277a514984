# Third-party dependencies. All come from Debian 12 packages (tools/setup-deps.sh) on CPU machines,
# and from carried .debs plus the PyTorch wheel's LibTorch on the GPU host (shared/device/README.md).
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(GTest REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json REQUIRED)
# GiNaC + CLN (symbolic math layer of the math verifier). pkg-config where available; on the GPU host
# the carried debs are unpacked into a prefix that CPATH/LIBRARY_PATH point at, so fall back to a search.
find_package(PkgConfig)
if(PkgConfig_FOUND)
  pkg_check_modules(GINAC IMPORTED_TARGET ginac)
endif()
if(NOT TARGET PkgConfig::GINAC)
  find_path(M1RL_GINAC_INCLUDE ginac/ginac.h HINTS ENV CPATH)
  find_library(M1RL_GINAC_LIB ginac HINTS ENV LIBRARY_PATH)
  find_library(M1RL_CLN_LIB cln HINTS ENV LIBRARY_PATH)
  if(M1RL_GINAC_INCLUDE AND M1RL_GINAC_LIB AND M1RL_CLN_LIB)
    add_library(PkgConfig::GINAC INTERFACE IMPORTED)
    target_include_directories(PkgConfig::GINAC INTERFACE ${M1RL_GINAC_INCLUDE})
    target_link_libraries(PkgConfig::GINAC INTERFACE ${M1RL_GINAC_LIB} ${M1RL_CLN_LIB})
  else()
    message(FATAL_ERROR "GiNaC/CLN not found (Debian libginac-dev, libcln-dev; tools/setup-deps.sh installs them)")
  endif()
endif()

# PCRE2 and ICU (Debian libpcre2-dev, libicu-dev): tokenizer.json pre-tokenizer patterns and Unicode
# normalizers (model/text_pipeline.h). pkg-config where available, else a search as for GiNaC.
# _m1rl_find_or_fail(TARGET HEADER LIB PACKAGE): an imported TARGET from CPATH/LIBRARY_PATH, or a fatal error.
function(_m1rl_find_or_fail target header lib package)
  if(TARGET ${target})
    return()
  endif()
  find_path(M1RL_${lib}_INCLUDE ${header} HINTS ENV CPATH)
  find_library(M1RL_${lib}_LIB ${lib} HINTS ENV LIBRARY_PATH)
  if(NOT (M1RL_${lib}_INCLUDE AND M1RL_${lib}_LIB))
    message(FATAL_ERROR "${header} / lib${lib} not found (Debian ${package}; tools/setup-deps.sh installs it)")
  endif()
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  target_include_directories(${target} INTERFACE ${M1RL_${lib}_INCLUDE})
  target_link_libraries(${target} INTERFACE ${M1RL_${lib}_LIB})
endfunction()
if(PkgConfig_FOUND)
  pkg_check_modules(PCRE2 IMPORTED_TARGET GLOBAL libpcre2-8)
  pkg_check_modules(ICU_UC IMPORTED_TARGET GLOBAL icu-uc)
endif()
_m1rl_find_or_fail(PkgConfig::PCRE2 pcre2.h pcre2-8 libpcre2-dev)
_m1rl_find_or_fail(PkgConfig::ICU_UC unicode/normalizer2.h icuuc libicu-dev)

# libseccomp (Debian libseccomp-dev) for the sandbox's syscall filter (reward/sandbox). Optional: without it
# the sandbox and the code domain are not built (the GPU host carries no libseccomp).
if(PkgConfig_FOUND)
  pkg_check_modules(SECCOMP IMPORTED_TARGET libseccomp)
endif()
set(M1RL_HAVE_SANDBOX OFF)
if(TARGET PkgConfig::SECCOMP)
  set(M1RL_HAVE_SANDBOX ON)
endif()
message(STATUS "m1rl: sandbox (libseccomp) = ${M1RL_HAVE_SANDBOX}")

# LibTorch. Debian's libtorch-dev installs TorchConfig.cmake under /usr/lib/x86_64-linux-gnu/cmake/Torch.
find_package(Torch REQUIRED)
# Torch's config appends its flags to CMAKE_CXX_FLAGS; we rely on the torch target only (S38).
set(M1RL_TORCH_HAS_CUDA OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  set(M1RL_TORCH_HAS_CUDA ON)
endif()
message(STATUS "m1rl: LibTorch ${Torch_VERSION}; torch_cuda=${M1RL_TORCH_HAS_CUDA}; nvcc=${M1RL_ENABLE_CUDA}")
# The PyTorch wheel's libtorch.so and libtorch_cpu.so export their own statically linked copies of parts of
# libstdc++ (std::filesystem, chrono tzdb, ...: the wheel is built with a gcc-toolset whose newer libstdc++
# parts come from libstdc++_nonshared.a). On the GPU host the image's compiler (CXX=/opt/gcc/bin/g++) finds
# no libstdc++.so for its implicit -lstdc++, only an archive at the end of the link line, so an executable's
# std:: references resolve to whichever LibTorch library exports them and libstdc++.so.6 is not NEEDED: at
# run time they bind to the torch copies, and libtorch.so's std::filesystem::remove_all(const path&) calls
# through a null pointer (SIGSEGV at pc=0 in every test that removes a temp directory, LibTorch 2.11).
# Naming the shared libstdc++ first, and NEEDED, makes it the first definition both for the link and for
# the loader's search order (and keeps a second, static libstdc++ out of the process).
# Applied to everything that links LibTorch (m1rl_helpers.cmake); harmless where torch exports none.
set(M1RL_TORCH_LINK_OPTIONS)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" AND CMAKE_SYSTEM_NAME STREQUAL "Linux")
  set(M1RL_TORCH_LINK_OPTIONS "LINKER:--push-state,--no-as-needed,-l:libstdc++.so.6,--pop-state")
endif()

find_program(M1RL_PROTOC protoc REQUIRED)
find_program(M1RL_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
