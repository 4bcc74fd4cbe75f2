# embed_file.cmake — writes OUTPUT, a C file defining `const unsigned char NAME[]` (the bytes of
# INPUT, NUL-terminated) and `const size_t NAME_len`. Run as cmake -DINPUT=... -DOUTPUT=...
# -DNAME=... -P embed_file.cmake.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR n "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp" "/* generated from ${INPUT} by cmake/embed_file.cmake */\n#include <stddef.h>\nconst unsigned char ${NAME}[] = {\n${bytes}0x00};\nconst size_t ${NAME}_len = ${n};\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
