#include <archive.h>
#include <archive_entry.h>
// Not exported by Swift's Glibc module; the unpacker needs them.
#include <sys/xattr.h>
#include <sys/types.h>
int syncfs(int fd);
