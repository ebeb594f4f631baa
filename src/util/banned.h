/* Functions nobody in clawbox may call (as git's banned.h). Included last by
 * util/common.h, after every system header, so declarations stay intact. */
#ifndef CLAWBOX_BANNED_H
#define CLAWBOX_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef getenv
#define getenv(x) BANNED(getenv)
#undef strtok
#define strtok(x, y) BANNED(strtok)

#endif
