import PierAgent
import PierManager

/// The tests run the manager on a real agent node, as `pier manager` and `pier up` do.
extension AgentNode: ManagerNode {}
