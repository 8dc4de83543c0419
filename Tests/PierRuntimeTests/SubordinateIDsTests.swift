@testable import PierSpec
import Foundation
import Testing

@testable import PierRuntime

@Suite("Subordinate ids and --userns")
struct SubordinateIDsTests {
    func withFiles<T>(subuid: String?, subgid: String?, _ body: (String, String) throws -> T) throws -> T {
        let dir = try TestSupport.makeTempDirectory("pier-subid")
        defer { try? FileManager.default.removeItem(at: dir) }
        let uid = dir.appendingPathComponent("subuid").path, gid = dir.appendingPathComponent("subgid").path
        if let subuid { try subuid.write(toFile: uid, atomically: true, encoding: .utf8) }
        if let subgid { try subgid.write(toFile: gid, atomically: true, encoding: .utf8) }
        return try body(uid, gid)
    }

    @Test("no files: pier:100000:65536 is added to both, world-readable; a second call reads it back")
    func createdWhenAbsent() throws {
        try withFiles(subuid: nil, subgid: nil) { uid, gid in
            #expect(try SubordinateIDs.lookup(subuid: uid, subgid: gid) == nil)
            let mapping = try SubordinateIDs.ensure(subuid: uid, subgid: gid)
            #expect(mapping == IDMapping(uidStart: 100_000, gidStart: 100_000, count: 65536))
            #expect(try String(contentsOfFile: uid, encoding: .utf8) == "pier:100000:65536\n")
            #expect(try String(contentsOfFile: gid, encoding: .utf8) == "pier:100000:65536\n")
            let mode = try FileManager.default.attributesOfItem(atPath: uid)[.posixPermissions] as? Int
            #expect(mode == 0o644)
            #expect(try SubordinateIDs.ensure(subuid: uid, subgid: gid) == mapping)
            #expect(try SubordinateIDs.lookup(subuid: uid, subgid: gid) == mapping)
            #expect(mapping.description == "uid 100000-165535, gid 100000-165535")
            #expect(mapping.uidMapLine == "0 100000 65536\n")
        }
    }

    @Test("other users' ranges are kept and the new one goes after them, aligned; comments and bad lines are skipped")
    func appendedAfterOthers() throws {
        let existing = "# users\nalice:100000:65536\nbob:165536:70000\nnot a line\n"
        try withFiles(subuid: existing, subgid: "dockremap:231072:65536") { uid, gid in
            let mapping = try SubordinateIDs.ensure(subuid: uid, subgid: gid)
            #expect(mapping.uidStart == 262_144 && mapping.gidStart == 327_680 && mapping.count == 65536)
            #expect(try String(contentsOfFile: uid, encoding: .utf8) == existing + "pier:262144:65536\n")
            #expect(try String(contentsOfFile: gid, encoding: .utf8) == "dockremap:231072:65536\npier:327680:65536\n")
        }
    }

    @Test("an existing pier entry is used as is, the smaller count of the two", arguments: [
        ("pier:200000:100000\n", "pier:300000:65536\n", IDMapping(uidStart: 200_000, gidStart: 300_000, count: 65536)),
    ])
    func existingEntry(_ subuid: String, _ subgid: String, _ expected: IDMapping) throws {
        try withFiles(subuid: subuid, subgid: subgid) { uid, gid throws in
            #expect(try SubordinateIDs.ensure(subuid: uid, subgid: gid) == expected)
            #expect(try String(contentsOfFile: uid, encoding: .utf8) == subuid, "left unchanged")
        }
    }

    @Test("unusable entries are refused, naming the file, the entry and what would do", arguments: [
        "pier:0:65536", "pier:100000:65535", "pier:4294967000:65536",
    ])
    func unusable(_ entry: String) throws {
        try withFiles(subuid: entry + "\n", subgid: nil) { uid, gid in
            for attempt in [{ _ = try SubordinateIDs.ensure(subuid: uid, subgid: gid) }, { _ = try SubordinateIDs.lookup(subuid: uid, subgid: gid) }] {
                let error = #expect(throws: UserNamespaceError.self) { try attempt() }
                let text = "\(error.map { "\($0)" } ?? "")"
                #expect(text.hasPrefix("--userns remap: \(uid) entry \(entry) is unusable"), "\(text)")
                #expect(text.contains("pier:100000:65536"), "\(text)")
            }
            #expect(!FileManager.default.fileExists(atPath: gid))
        }
    }

    @Test("--userns: host or remap; remap with --privileged or --network host is a conflict before anything starts")
    func usernsFlag() throws {
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox")).userns == nil)
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox", userns: "remap")).userns == .remap)
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox", userns: "host")).userns == .host)
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox", network: "host", privileged: true, userns: "host")).privileged)
        let cases: [(ContainerSpec, String)] = [
            (ContainerSpec(image: "busybox", userns: "private"), "--userns"),
            (ContainerSpec(image: "busybox", privileged: true, userns: "remap"), "--privileged needs the host's user namespace"),
            (ContainerSpec(image: "busybox", network: "host", userns: "remap"), "--network host needs the host's user namespace"),
        ]
        for (raw, mentions) in cases {
            let error = #expect(throws: ContainerSpecError.self) { try ContainerOptions(validating: raw) }
            #expect("\(error.map { "\($0)" } ?? "")".contains(mentions), "\(String(describing: error))")
        }
    }
}
