/*
 * pier-shim is C, but SwiftPM links every executable through the Swift driver, which adds
 * swiftrt.o: a constructor that registers the image's Swift metadata with the runtime. Its only
 * references into the runtime are the two functions below, and resolving them here keeps
 * libswiftCore (about 5 MB of code, 1 MB of data, and its start-up work) out of the shim.
 * One shim runs per container for the container's whole life, so this is about 1 MiB of
 * resident memory per container. The shim has no Swift metadata to register, so doing nothing
 * is exactly right. If a future swiftrt.o needs more of the runtime, the link pulls
 * libswiftCore in again and the shim still works, only bigger.
 */
#include <stdbool.h>

void swift_addNewDSOImage(const void *sections);
bool _swift_backtrace_isThunkFunction(const char *name);

void swift_addNewDSOImage(const void *sections) { (void)sections; }

bool _swift_backtrace_isThunkFunction(const char *name) {
    (void)name;
    return false;
}
