# Generates a header that embeds docs/openapi.yaml, so the API serves its own description.
file(READ "${SRC}" text)
string(FIND "${text}" ")wfopenapi\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${SRC} contains the raw-string delimiter )wfopenapi\"")
endif()
set(body "#pragma once\nnamespace wf {\ninline constexpr const char kOpenApiYaml[] = R\"wfopenapi(${text})wfopenapi\";\n}  // namespace wf\n")
file(WRITE "${OUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
