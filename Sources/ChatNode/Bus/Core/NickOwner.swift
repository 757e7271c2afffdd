/// Who holds a listed nick, as events and records name it (`owner`), kept
/// in a fixed-size value so a room's member table allocates nothing per
/// member: every node lists every member of the rooms it holds, so this
/// is the per-membership cost that multiplies with nodes and rooms.
///
/// Two owners are the same holder exactly when their strings are equal.
enum NickOwner: Hashable, Sendable {
    /// `instance/connection`: one connection of a node instance whose id
    /// is a base-36 number (`RedisBus` makes them so).
    case connection(instance: UInt64, id: UInt64)
    /// A bare connection number (the in-process bus's owners).
    case localConnection(UInt64)
    /// Any other form, such as `~subject` for a logged-in user.
    case other(String)

    init(_ owner: String) {
        let utf8 = owner.utf8
        if let slash = utf8.firstIndex(of: UInt8(ascii: "/")) {
            let instance = Substring(utf8[..<slash])
            let connection = Substring(utf8[utf8.index(after: slash)...])
            if let instanceNumber = UInt64(instance, radix: 36), String(instanceNumber, radix: 36) == instance,
               let id = UInt64(connection), String(id) == connection {
                self = .connection(instance: instanceNumber, id: id)
                return
            }
        } else if let id = UInt64(owner), String(id) == owner {
            self = .localConnection(id)
            return
        }
        self = .other(owner)
    }
}
