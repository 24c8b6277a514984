# Build helpers (S39): one call per library or test, so flags, guards and labels are uniform.
#
# m1rl_cc_library(NAME <name> [SRCS ...] [HDRS ...] [DEPS ...] [TORCH] [TORCH_FRONTEND] [CUDA_SRCS ...])
#   Creates m1rl_<name> (alias m1rl::<name>). TORCH links LibTorch with the per-operator-header guard
#   (S32); TORCH_FRONTEND links LibTorch without the guard (S33).
# m1rl_cc_test(NAME <name> SRCS ... [DEPS ...] [LABEL cpu|cuda|multi_gpu] [TORCH] [TIMEOUT s])
#   A GoogleTest binary whose tests are discovered into ctest with the given label.
# m1rl_cc_binary(NAME <name> SRCS ... [DEPS ...] [TORCH])

set(M1RL_WARNINGS -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # LibTorch 1.13 headers trip these under g++ 12 even as SYSTEM includes in templates.
  list(APPEND M1RL_WARNINGS -Wno-maybe-uninitialized -Wno-array-bounds -Wno-stringop-overflow -Wno-restrict)
endif()

function(_m1rl_apply_common target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${M1RL_WARNINGS}>)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}>)
  if(M1RL_SANITIZE)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer>)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

function(_m1rl_link_torch target mode frontend)
  # The PyTorch wheel (GPU host) ships its own, older protobuf headers inside torch/include; our generated
  # .pb.h files need the protobuf that protoc came from, so its include dir goes first (not when it is
  # /usr/include: a -isystem /usr/include breaks libstdc++'s #include_next).
  foreach(dir ${Protobuf_INCLUDE_DIRS})
    if(NOT dir STREQUAL "/usr/include")
      target_include_directories(${target} SYSTEM BEFORE ${mode} ${dir})
    endif()
  endforeach()
  # Torch's include dirs become SYSTEM so its warnings do not fail -Werror.
  target_include_directories(${target} SYSTEM ${mode} ${TORCH_INCLUDE_DIRS})
  target_link_libraries(${target} ${mode} ${TORCH_LIBRARIES})
  # libstdc++ before LibTorch in the executable's link and load order (m1rl_deps.cmake says why).
  if(M1RL_TORCH_LINK_OPTIONS)
    target_link_options(${target} ${mode} ${M1RL_TORCH_LINK_OPTIONS})
  endif()
  if(NOT frontend)
    target_compile_definitions(${target} PRIVATE AT_PER_OPERATOR_HEADERS TORCH_ASSERT_ONLY_METHOD_OPERATORS)
  endif()
endfunction()

function(m1rl_cc_library)
  cmake_parse_arguments(A "TORCH;TORCH_FRONTEND;INTERFACE" "NAME" "SRCS;HDRS;DEPS;CUDA_SRCS" ${ARGN})
  set(t m1rl_${A_NAME})
  if(A_INTERFACE OR (NOT A_SRCS AND NOT A_CUDA_SRCS))
    add_library(${t} INTERFACE ${A_HDRS})
    target_include_directories(${t} INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}>)
    target_link_libraries(${t} INTERFACE ${A_DEPS})
    if(A_TORCH OR A_TORCH_FRONTEND)
      target_include_directories(${t} SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
      target_link_libraries(${t} INTERFACE ${TORCH_LIBRARIES})
      if(M1RL_TORCH_LINK_OPTIONS)
        target_link_options(${t} INTERFACE ${M1RL_TORCH_LINK_OPTIONS})
      endif()
    endif()
  else()
    add_library(${t} STATIC ${A_SRCS} ${A_HDRS} ${A_CUDA_SRCS})
    _m1rl_apply_common(${t})
    target_link_libraries(${t} PUBLIC ${A_DEPS})
    if(A_TORCH)
      _m1rl_link_torch(${t} PUBLIC FALSE)
    elseif(A_TORCH_FRONTEND)
      _m1rl_link_torch(${t} PUBLIC TRUE)
    endif()
    set_target_properties(${t} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  endif()
  add_library(m1rl::${A_NAME} ALIAS ${t})
endfunction()

function(m1rl_cc_test)
  cmake_parse_arguments(A "TORCH;TORCH_FRONTEND" "NAME;LABEL;TIMEOUT;FIXTURE" "SRCS;DEPS" ${ARGN})
  set(fixture "")
  if(A_FIXTURE)  # a ctest fixture (FIXTURES_SETUP elsewhere) every test of this binary requires
    set(fixture FIXTURES_REQUIRED ${A_FIXTURE})
  endif()
  if(NOT A_LABEL)
    set(A_LABEL cpu)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 600)
  endif()
  set(t ${A_NAME})
  add_executable(${t} ${A_SRCS})
  _m1rl_apply_common(${t})
  target_link_libraries(${t} PRIVATE ${A_DEPS} GTest::gmock GTest::gtest GTest::gmock_main)
  if(A_TORCH)
    _m1rl_link_torch(${t} PRIVATE FALSE)
  elseif(A_TORCH_FRONTEND)
    _m1rl_link_torch(${t} PRIVATE TRUE)
  endif()
  gtest_discover_tests(${t}
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
    DISCOVERY_TIMEOUT 120
    # gtest_discover_tests already sets SKIP_REGULAR_EXPRESSION for "[  SKIPPED ]" (S24).
    # Each property holds a single value: list values do not survive gtest_discover_tests' quoting.
    PROPERTIES LABELS ${A_LABEL} TIMEOUT ${A_TIMEOUT}
               ENVIRONMENT "M1RL_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
               ENVIRONMENT_MODIFICATION "M1RL_BINARY_DIR=set:${PROJECT_BINARY_DIR}"
               ${fixture})
endfunction()

function(m1rl_cc_binary)
  cmake_parse_arguments(A "TORCH;TORCH_FRONTEND" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  _m1rl_apply_common(${A_NAME})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
  if(A_TORCH)
    _m1rl_link_torch(${A_NAME} PRIVATE FALSE)
  elseif(A_TORCH_FRONTEND)
    _m1rl_link_torch(${A_NAME} PRIVATE TRUE)
  endif()
endfunction()

# m1rl_proto_library(NAME <name> PROTOS a.proto ... [GRPC] [DEPS ...])
#   Generates C++ (and gRPC stubs) into the build tree, mirrored under proto/.
function(m1rl_proto_library)
  cmake_parse_arguments(A "GRPC" "NAME" "PROTOS;DEPS" ${ARGN})
  set(srcs)
  set(hdrs)
  foreach(p ${A_PROTOS})
    get_filename_component(base ${p} NAME_WE)
    set(out ${PROJECT_BINARY_DIR}/proto)
    set(gen_srcs ${out}/${base}.pb.cc)
    set(gen_hdrs ${out}/${base}.pb.h)
    set(plugin_args)
    if(A_GRPC)
      list(APPEND gen_srcs ${out}/${base}.grpc.pb.cc)
      list(APPEND gen_hdrs ${out}/${base}.grpc.pb.h)
      set(plugin_args --grpc_out=${PROJECT_BINARY_DIR} --plugin=protoc-gen-grpc=${M1RL_GRPC_CPP_PLUGIN})
    endif()
    add_custom_command(
      OUTPUT ${gen_srcs} ${gen_hdrs}
      COMMAND ${M1RL_PROTOC} --proto_path=${PROJECT_SOURCE_DIR} --cpp_out=${PROJECT_BINARY_DIR} ${plugin_args}
              ${PROJECT_SOURCE_DIR}/proto/${p}
      DEPENDS ${PROJECT_SOURCE_DIR}/proto/${p} ${M1RL_PROTOC}
      COMMENT "protoc proto/${p}"
      VERBATIM)
    list(APPEND srcs ${gen_srcs})
    list(APPEND hdrs ${gen_hdrs})
  endforeach()
  set(t m1rl_${A_NAME})
  add_library(${t} STATIC ${srcs} ${hdrs})
  target_include_directories(${t} PUBLIC ${PROJECT_BINARY_DIR})
  target_link_libraries(${t} PUBLIC protobuf::libprotobuf ${A_DEPS})
  if(A_GRPC)
    target_link_libraries(${t} PUBLIC gRPC::grpc++)
  endif()
  set_target_properties(${t} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  add_library(m1rl::${A_NAME} ALIAS ${t})
endfunction()
