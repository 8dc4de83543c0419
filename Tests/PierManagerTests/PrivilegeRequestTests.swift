import PierAccess
import PierAPI
import Testing

/// What a container spec asks for beyond its sandbox, as every entry point (agent API, services,
/// stacks, CoAP) hands it to `PrivilegeReview`: each host-reaching field is named, nothing else is.
@Suite struct PrivilegeRequestTests {
    @Test(arguments: [
        (ContainerCreateRequest(image: "x", privileged: true), Privilege.privileged, "privileged"),
        (ContainerCreateRequest(image: "x", network: "host"), .hostNetwork, "network \"host\""),
        (ContainerCreateRequest(image: "x", network: "container:db"), .hostNetwork, "network \"container:db\""),
        (ContainerCreateRequest(image: "x", volumes: ["/:/host"]), .bindMount, "volume /:/host"),
        (ContainerCreateRequest(image: "x", mounts: ["type=bind,source=/etc,target=/e"]), .bindMount, "mount type=bind,source=/etc,target=/e"),
        (ContainerCreateRequest(image: "x", devices: ["/dev/mem"]), .device, "device /dev/mem"),
        (ContainerCreateRequest(image: "x", capAdd: ["SYS_ADMIN"]), .capability, "cap-add SYS_ADMIN"),
        (ContainerCreateRequest(image: "x", securityOpt: ["seccomp=unconfined"]), .unconfined, "security-opt seccomp=unconfined"),
        (ContainerCreateRequest(image: "x", securityOpt: ["apparmor=unconfined"]), .unconfined, "security-opt apparmor=unconfined"),
        (ContainerCreateRequest(image: "x", userns: "host"), .hostUserNamespace, "userns host"),
    ])
    func eachHostReachingFieldIsAskedForAndRefusedToOperators(request: ContainerCreateRequest, privilege: Privilege, detail: String) {
        #expect(request.requestedPrivileges == [PrivilegeRequest(privilege, detail)])
        let op = Caller(role: .operator, name: "client-ci")
        let denied = PrivilegeReview.review(request.requestedPrivileges, caller: op)
        #expect(denied?.reason == "client-ci (operator) may not ask for \(privilege) (\(detail)); that needs an admin certificate")
        #expect(PrivilegeReview.review(request.requestedPrivileges, caller: Caller(role: .admin, name: "client-a")) == nil)
        #expect(PrivilegeReview.review(request.requestedPrivileges, caller: .local) == nil)
    }

    @Test func anIsolatedContainerAsksForNothing() {
        let plain = ContainerCreateRequest(
            image: "x", command: ["sh"], volumes: [], network: "bridge", publish: ["8080:80"], capDrop: ["NET_RAW"],
            securityOpt: ["no-new-privileges"], tmpfs: ["/run"], mounts: ["type=tmpfs,target=/cache"], ulimits: ["nofile=1024"],
            sysctls: ["net.ipv4.ip_forward": "1"], initProcess: true, userns: "remap")
        #expect(plain.requestedPrivileges.isEmpty, "\(plain.requestedPrivileges)")
    }
}
