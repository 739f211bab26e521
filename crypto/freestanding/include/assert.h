/* Freestanding <assert.h>: runtime assert() compiles away (NDEBUG semantics);
 * static_assert maps to C11 _Static_assert. */
#ifndef AHV_FS_ASSERT_H
#define AHV_FS_ASSERT_H
#define assert(x) ((void)0)
#ifndef static_assert
#define static_assert _Static_assert
#endif
#endif
