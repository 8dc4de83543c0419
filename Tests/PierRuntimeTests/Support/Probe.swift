import Foundation

@testable import PierRuntime

/// A static C program that makes one system call per argument and prints `NAME: ok` or
/// `NAME: errno N`, so a test can see from inside a container what its seccomp filter allows.
enum Probe {
    static let source = #"""
        #define _GNU_SOURCE
        #include <errno.h>
        #include <pthread.h>
        #include <sched.h>
        #include <signal.h>
        #include <stdio.h>
        #include <string.h>
        #include <sys/personality.h>
        #include <sys/socket.h>
        #include <sys/syscall.h>
        #include <sys/utsname.h>
        #include <sys/wait.h>
        #include <unistd.h>

        static void *thread_main(void *arg) { return arg; }

        int main(int argc, char **argv) {
            setvbuf(stdout, NULL, _IONBF, 0);  /* a call the filter kills must not take earlier lines along */
            for (int i = 1; i < argc; i++) {
                const char *c = argv[i];
                long r = -1;
                errno = 0;
                if (!strcmp(c, "unshare-user")) r = unshare(CLONE_NEWUSER);
                else if (!strcmp(c, "add_key")) r = syscall(SYS_add_key, "user", "pier", "x", 1, -2);
                else if (!strcmp(c, "keyctl")) r = syscall(SYS_keyctl, 0, -2, 0);
                else if (!strcmp(c, "clone3")) r = syscall(SYS_clone3, NULL, 0);
                else if (!strcmp(c, "af_alg")) r = socket(38, SOCK_SEQPACKET, 0);
                else if (!strcmp(c, "af_vsock")) r = socket(40, SOCK_STREAM, 0);
                else if (!strcmp(c, "af_inet")) r = socket(AF_INET, SOCK_STREAM, 0);
                else if (!strcmp(c, "af_unix")) r = socket(AF_UNIX, SOCK_STREAM, 0);
                else if (!strcmp(c, "clone-newns")) {
                    long p = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
                    if (p == 0) _exit(0);
                    if (p > 0) waitpid(p, 0, 0);
                    r = p;
                } else if (!strcmp(c, "fork")) {
                    pid_t p = fork();
                    if (p == 0) _exit(0);
                    if (p > 0) waitpid(p, 0, 0);
                    r = p;
                } else if (!strcmp(c, "thread")) {
                    pthread_t t;
                    int e = pthread_create(&t, 0, thread_main, 0);
                    if (e) errno = e; else { pthread_join(t, 0); r = 0; }
                } else if (!strcmp(c, "personality-query")) r = personality(0xffffffff);
                else if (!strcmp(c, "personality-norandom")) r = personality(0x0040000);
                else if (!strcmp(c, "uname")) { struct utsname u; r = uname(&u); }
                else if (!strcmp(c, "i386-getpid") || !strcmp(c, "i386-keyctl")) {
        #if defined(__x86_64__)
                    /* A 32-bit call from this 64-bit program: the kernel's ia32 table, audit arch I386. */
                    long nr = c[5] == 'g' ? 20 : 288, ret;
                    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(0L), "c"(-2L), "d"(0L) : "memory");
                    if (ret < 0) errno = (int)-ret; else r = ret;
        #else
                    printf("%s: unsupported\n", c);
                    continue;
        #endif
                }
                else { printf("%s: unknown\n", c); continue; }
                if (r < 0) printf("%s: errno %d\n", c, errno); else printf("%s: ok\n", c);
            }
            return 0;
        }
        """#

    /// Compiles the probe once (static, so it runs in a busybox root); nil without a C compiler.
    static let binary: URL? = {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/cc") else { return nil }
        guard let dir = try? TestSupport.makeTempDirectory("pier-probe") else { return nil }
        let src = dir.appendingPathComponent("probe.c"), out = dir.appendingPathComponent("probe")
        guard (try? source.write(to: src, atomically: true, encoding: .utf8)) != nil,
            let result = try? Subprocess.run("/usr/bin/cc", ["-static", "-O1", "-pthread", "-o", out.path, src.path]),
            result.succeeded
        else { return nil }
        return out
    }()

    /// A static Swift program whose work runs on Dispatch's threads (glibc tries clone3 for
    /// each, and must fall back to clone where the policy answers ENOSYS); nil without swiftc.
    static let swiftBinary: URL? = {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/swiftc" } + ["/opt/swift/usr/bin/swiftc"]
        guard let swiftc = path.first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
            let dir = try? TestSupport.makeTempDirectory("pier-swift-probe")
        else { return nil }
        let src = dir.appendingPathComponent("main.swift"), out = dir.appendingPathComponent("swift-probe")
        let program = """
            import Dispatch
            let group = DispatchGroup()
            for i in 0..<4 { DispatchQueue.global().async(group: group) { _ = (0..<100_000).reduce(i, &+) } }
            group.wait()
            print("swift ok")
            """
        guard (try? program.write(to: src, atomically: true, encoding: .utf8)) != nil,
            let result = try? Subprocess.run(swiftc, ["-static-executable", "-module-cache-path", dir.path, "-o", out.path, src.path], timeout: .seconds(300)),
            result.succeeded
        else { return nil }
        return out
    }()

    /// Copies the probe into a layer as /bin/probe.
    static func install(into layer: URL) throws {
        guard let binary else { throw MissingCompiler() }
        let target = layer.appendingPathComponent("bin/probe")
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.copyItem(at: binary, to: target)
    }

    struct MissingCompiler: Error, CustomStringConvertible {
        var description: String { "the seccomp probe needs cc and a static libc (Debian's gcc and libc6-dev)" }
    }

    /// `NAME: ok` / `NAME: errno N` lines → [NAME: "ok" or "N"].
    static func results(_ lines: [String]) -> [String: String] {
        var result: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            result[parts[0]] = parts[1].hasPrefix("errno ") ? String(parts[1].dropFirst(6)) : parts[1]
        }
        return result
    }
}
