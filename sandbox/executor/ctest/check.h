// A small harness for the C executor's unit tests: CHECK records a failure
// and goes on; EXPECT_FAIL runs code that must end in husk_fail, whose
// message it keeps, instead of exiting.
#ifndef HUSK_CHECK_H
#define HUSK_CHECK_H
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

// What a failure leaves allocated, the executor's exit frees: the leak
// checker ignores what EXPECT_FAIL's code allocates.
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#define LEAKS_IGNORED() __lsan_disable()
#define LEAKS_CHECKED() __lsan_enable()
#else
#define LEAKS_IGNORED() ((void)0)
#define LEAKS_CHECKED() ((void)0)
#endif

extern int check_failures;
extern jmp_buf check_jump;
extern int check_armed;
extern char check_message[1024];

#define CHECK(cond, ...)                                                           \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                              \
			fputc('\n', stderr);                                       \
			check_failures++;                                          \
		}                                                                  \
	} while (0)

// EXPECT_FAIL(code, want): code must call husk_fail with a message that
// contains want.
#define EXPECT_FAIL(code, want)                                                               \
	do {                                                                                  \
		check_armed = 1;                                                              \
		check_message[0] = 0;                                                         \
		LEAKS_IGNORED();                                                              \
		if (setjmp(check_jump) == 0) {                                                \
			code;                                                                 \
			check_armed = 0;                                                      \
			CHECK(0, "%s did not fail", #code);                                   \
		} else {                                                                      \
			CHECK(strstr(check_message, want) != NULL, "message \"%s\" lacks \"%s\"", \
			      check_message, want);                                           \
		}                                                                             \
		LEAKS_CHECKED();                                                              \
		check_armed = 0;                                                              \
	} while (0)

void test_spec(void);
void test_paths(void);
void test_in_root(int openat2);
int has_openat2(void);
void test_user(void);
void test_launch(void);
void test_entry(void);
void test_pid1(void);

// make_temp makes a directory for a test and returns its path.
const char *make_temp(void);
void write_file(const char *path, const char *content);

#endif
