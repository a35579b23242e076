#ifndef HOURGLASS_UNIT_H
#define HOURGLASS_UNIT_H
#include <stdio.h>
#include <string.h>

/* A failed check reports and returns from the test; the runner counts it. */
extern int unit_failed_checks;
#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            unit_failed_checks++;                                                     \
            return;                                                                   \
        }                                                                             \
    } while (0)
#define CHECK_STR(a, b)                                                                              \
    do {                                                                                             \
        const char *a_ = (a), *b_ = (b);                                                             \
        if (!a_ || !b_ || strcmp(a_, b_)) {                                                          \
            fprintf(stderr, "  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, a_ ? a_ : "(null)", \
                    b_ ? b_ : "(null)");                                                             \
            unit_failed_checks++;                                                                    \
            return;                                                                                  \
        }                                                                                            \
    } while (0)

#define TEST(name) void test_##name(void)

#endif
