import Foundation
import Hummingbird
import NIOCore
import PierAccess
import PierAPI
import PierCluster

/// The manager's HTTP API (docs/manager-api.md): services, tasks, nodes, stacks, join tokens,
/// certificates and the CA. Mounted on the local admin socket and on the TCP port; who may call
/// each route is `AccessPolicy.managerAPI`, checked by `ManagerAuthorization` before it runs.
struct ManagerRoutes<Context: RequestContext & CallerCarrying>: Sendable {
    let manager: Manager
    let membership: Membership
    let registry: RegistryAccessControl
    let maxBody: Int

    func add(to router: Router<Context>) {
        let v1 = router.group("v1")
        let manager = self.manager, membership = self.membership, maxBody = self.maxBody, registry = self.registry
        v1.get("cluster") { _, _ in
            await JSONResponses.respond { await manager.info(caFingerprint: membership.caFingerprint) }
        }
        v1.get("ca") { _, _ in await JSONResponses.respond { await membership.caStatus() } }
        v1.post("ca/rotate") { _, _ in
            await JSONResponses.respond { try await membership.startRotation() }
        }

        // Services
        v1.get("services") { _, _ in await JSONResponses.respond { await manager.listServices() } }
        v1.post("services") { req, ctx in
            await JSONResponses.respond(status: .created) {
                try await manager.createService(try await JSONResponses.decode(ServiceSpec.self, req, limit: maxBody), as: ctx.caller)
            }
        }
        v1.get("services/{ref}") { _, ctx in
            await JSONResponses.respond { try await manager.lookupService(try ctx.parameters.require("ref")) }
        }
        v1.post("services/{ref}/update") { req, ctx in
            await JSONResponses.respond {
                let spec = try await JSONResponses.decode(ServiceSpec.self, req, limit: maxBody)
                return try await manager.updateService(try ctx.parameters.require("ref"), spec: spec, as: ctx.caller)
            }
        }
        v1.post("services/{ref}/scale") { req, ctx in
            await JSONResponses.respond {
                let scale = try await JSONResponses.decode(ScaleRequest.self, req, limit: maxBody)
                return try await manager.scaleService(try ctx.parameters.require("ref"), replicas: scale.replicas)
            }
        }
        v1.post("services/{ref}/rollback") { _, ctx in
            await JSONResponses.respond { try await manager.rollbackService(try ctx.parameters.require("ref")) }
        }
        v1.delete("services/{ref}") { _, ctx in
            await JSONResponses.respondEmpty { try await manager.removeService(try ctx.parameters.require("ref")) }
        }
        v1.get("services/{ref}/tasks") { _, ctx in
            await JSONResponses.respond { try await manager.listTasks(service: try ctx.parameters.require("ref")) }
        }
        v1.get("services/{ref}/logs") { req, ctx in
            do {
                let q = req.uri.queryParameters
                func flag(_ name: Substring) -> Bool { q[name].map { $0 == "1" || $0 == "true" } ?? false }
                var tail: Int?
                if let text = q["tail"], text != "all" {
                    guard let n = Int(text), n >= 0 else { throw ManagerError.invalid("tail: \"\(text)\" must be a number of lines or all") }
                    tail = n
                }
                let stream = try await manager.serviceLogs(
                    try ctx.parameters.require("ref"), tail: tail, follow: flag("follow"), timestamps: flag("timestamps"))
                return Response(status: .ok, headers: [.contentType: "application/vnd.pier.stream"], body: ResponseBody { writer in
                    for await frame in stream { try await writer.write(ByteBuffer(bytes: frame.encoded())) }
                    try await writer.finish(nil)
                })
            } catch { return JSONResponses.error(error) }
        }
        v1.get("tasks") { req, _ in
            await JSONResponses.respond {
                try await manager.listTasks(
                    service: req.uri.queryParameters["service"].map(String.init),
                    node: req.uri.queryParameters["node"].map(String.init))
            }
        }

        // Nodes
        v1.get("nodes") { _, _ in await JSONResponses.respond { await manager.listNodes() } }
        v1.get("nodes/{ref}") { _, ctx in
            await JSONResponses.respond { try await manager.lookupNode(try ctx.parameters.require("ref")) }
        }
        v1.post("nodes/{ref}/update") { req, ctx in
            await JSONResponses.respond {
                let u = try await JSONResponses.decode(NodeUpdateRequest.self, req, limit: maxBody)
                return try await manager.updateNode(try ctx.parameters.require("ref"), availability: u.availability, labelAdd: u.labelAdd, labelRemove: u.labelRemove)
            }
        }
        v1.delete("nodes/{ref}") { req, ctx in
            await JSONResponses.respondEmpty {
                let force = req.uri.queryParameters["force"].map { $0 == "1" || $0 == "true" } ?? false
                try await membership.removeNode(try ctx.parameters.require("ref"), force: force)
            }
        }

        // Stacks
        v1.get("stacks") { _, _ in await JSONResponses.respond { await manager.listStacks() } }
        v1.post("stacks/{name}") { req, ctx in
            await JSONResponses.respond {
                let deploy = try await JSONResponses.decode(StackDeployRequest.self, req, limit: maxBody)
                return try await manager.deployStack(try ctx.parameters.require("name"), deploy, as: ctx.caller)
            }
        }
        v1.delete("stacks/{name}") { _, ctx in
            await JSONResponses.respondEmpty { try await manager.removeStack(try ctx.parameters.require("name")) }
        }

        // Client certificates
        v1.get("certificates") { _, _ in await JSONResponses.respond { await membership.clientCertificates() } }
        v1.post("certificates") { req, _ in
            await JSONResponses.respond(status: .created) {
                let request = try await JSONResponses.decode(ClientCertificateRequest.self, req, limit: maxBody)
                return try await membership.issueClientCertificate(request)
            }
        }
        v1.post("certificates/revoke") { req, _ in
            await JSONResponses.respond {
                try await membership.revokeClient(try await JSONResponses.decode(RevokeRequest.self, req, limit: maxBody).target)
            }
        }
        // The registry's credentials, and the token endpoint they are exchanged at (open: the
        // credential is the check, as on the join endpoint).
        v1.get("registry/credentials") { _, _ in await JSONResponses.respond { await registry.list() } }
        v1.post("registry/credentials") { req, _ in
            await JSONResponses.respond(status: .created) {
                try await registry.create(try await JSONResponses.decode(RegistryCredentialRequest.self, req, limit: maxBody))
            }
        }
        v1.delete("registry/credentials/{name}") { _, ctx in
            await JSONResponses.respondEmpty { try await registry.remove(try ctx.parameters.require("name")) }
        }
        v1.get("registry/token") { req, _ in
            var response = await JSONResponses.respond {
                try await registry.token(
                    authorization: req.headers[.authorization], service: req.uri.queryParameters["service"].map(String.init),
                    scopes: req.uri.queryParameters.getAll("scope").map { String($0) })
            }
            // Refused credentials are a 401 with a Basic challenge, as token servers answer
            // them (docker login then says the user name or password is wrong).
            if response.status == .forbidden {
                response.status = .unauthorized
                response.headers[.wwwAuthenticate] = "Basic realm=\"pier-registry\""
            }
            return response
        }
        v1.get("join-tokens") { _, _ in await JSONResponses.respond { await membership.tokenStatus() } }
        v1.post("join-tokens/rotate") { req, _ in
            await JSONResponses.respond {
                let role = req.uri.queryParameters["role"].map(String.init) ?? "worker"
                return try await membership.rotateToken(role: role)
            }
        }
    }
}
