// Linked into the math test binaries: under -DM1RL_SANITIZE=ON, LeakSanitizer would fail every run
// (including gtest's test discovery) on the static caches CLN allocates lazily and never frees.
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __lsan_default_suppressions() { return "leak:libcln.so\n"; }
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
extern "C" const char* __lsan_default_suppressions() { return "leak:libcln.so\n"; }
#endif
#endif
