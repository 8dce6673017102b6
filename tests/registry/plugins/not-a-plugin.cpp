// A shared library without the whatif entry.
extern "C" __attribute__((visibility("default"))) int some_function() { return 42; }
