# Turns the text file IN into a C source OUT defining `const char kz_mime_builtin_text[]`.
file(READ ${IN} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUT} "/* Generated from ${IN}; do not edit. */\nconst char kz_mime_builtin_text[] = {${bytes} 0x00};\n")
