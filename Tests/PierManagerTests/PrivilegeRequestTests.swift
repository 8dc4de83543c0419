import PierSpec
import PierAccess
import PierAPI
import Testing

/// What a container spec asks for beyond its sandbox, as every entry point (agent API, services,
/// stacks, CoAP) hands it to `PrivilegeReview`: each host-reaching field is named, nothing else is.
@Suite struct PrivilegeRequestTests {
    @Test(arguments: [
        (ContainerSpec(image: "x", privileged: true), Privilege.privileged, "privileged"),
        (ContainerSpec(image: "x", network: "host"), .hostNetwork, "network \"host\""),
        (ContainerSpec(image: "x", network: "container:db"), .hostNetwork, "network \"container:db\""),
        (ContainerSpec(image: "x", volumes: ["/:/host"]), .bindMount, "volume /:/host"),
        (ContainerSpec(image: "x", mounts: ["type=bind,source=/etc,target=/e"]), .bindMount, "mount type=bind,source=/etc,target=/e"),
        (ContainerSpec(image: "x", devices: ["/dev/mem"]), .device, "device /dev/mem"),
        (ContainerSpec(image: "x", capAdd: ["SYS_ADMIN"]), .capability, "cap-add SYS_ADMIN"),
        (ContainerSpec(image: "x", securityOpt: ["seccomp=unconfined"]), .unconfined, "security-opt seccomp=unconfined"),
        (ContainerSpec(image: "x", securityOpt: ["apparmor=unconfined"]), .unconfined, "security-opt apparmor=unconfined"),
        (ContainerSpec(image: "x", userns: "host"), .hostUserNamespace, "userns host"),
    ])
    func eachHostReachingFieldIsAskedForAndRefusedToOperators(request: ContainerSpec, privilege: Privilege, detail: String) {
        #expect(request.requestedPrivileges == [PrivilegeRequest(privilege, detail)])
        let op = Caller(role: .operator, name: "client-ci")
        let denied = PrivilegeReview.review(request.requestedPrivileges, caller: op)
        #expect(denied?.reason == "client-ci (operator) may not ask for \(privilege) (\(detail)); that needs an admin certificate")
        #expect(PrivilegeReview.review(request.requestedPrivileges, caller: Caller(role: .admin, name: "client-a")) == nil)
        #expect(PrivilegeReview.review(request.requestedPrivileges, caller: .local) == nil)
    }

    @Test func anIsolatedContainerAsksForNothing() {
        let plain = ContainerSpec(
            image: "x", command: ["sh"], volumes: [], network: "bridge", publish: ["8080:80"], capDrop: ["NET_RAW"],
            securityOpt: ["no-new-privileges"], tmpfs: ["/run"], mounts: ["type=tmpfs,target=/cache"], ulimits: ["nofile=1024"],
            sysctls: ["net.ipv4.ip_forward": "1"], initProcess: true, userns: "remap")
        #expect(plain.requestedPrivileges.isEmpty, "\(plain.requestedPrivileges)")
    }
}
