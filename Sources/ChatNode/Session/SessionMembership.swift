/// Where a session's user is: waiting for a `hello`, joining (the bus is
/// claiming the nick), joined, or gone. The orderings that matter, a hello
/// deadline that passes while the claim is in flight, a connection that
/// ends before the claim's answer, are cases here rather than flags.
struct SessionMembership {
    enum State {
        case awaitingHello
        /// The bus is claiming the nick; `isLate` once the hello deadline passed meanwhile.
        case joining(isLate: Bool)
        case joined(LocalMember)
        /// The connection ended while the claim was in flight: a claim that
        /// succeeds must be released at once.
        case endedWhileJoining
        case ended
    }

    /// What the session must do.
    enum Action {
        case none
        /// Close with 1008: no hello within the time limit.
        case closeForLateHello
        /// Release the member's nick (tell the bus it left).
        case leave(LocalMember)
    }

    private(set) var state = State.awaitingHello

    /// The joined member, if any.
    var member: LocalMember? {
        if case .joined(let member) = state { return member }
        return nil
    }

    /// Whether the connection has ended.
    var hasEnded: Bool {
        switch state {
        case .ended, .endedWhileJoining: true
        case .awaitingHello, .joining, .joined: false
        }
    }

    /// The hello deadline passed. A hello that arrived in time but waits for
    /// the bus is not late yet: it is if the claim then fails.
    mutating func helloDeadlinePassed() -> Action {
        switch state {
        case .awaitingHello: return .closeForLateHello
        case .joining: state = .joining(isLate: true)
        case .joined, .endedWhileJoining, .ended: break
        }
        return .none
    }

    /// The session asked the bus for the nick.
    mutating func joinStarted() {
        guard case .awaitingHello = state else { return }
        state = .joining(isLate: false)
    }

    /// The bus granted the nick to `member`.
    mutating func joined(_ member: LocalMember) -> Action {
        switch state {
        case .joining:
            state = .joined(member)
            return .none
        case .endedWhileJoining:
            state = .ended
            return .leave(member)
        case .awaitingHello, .joined, .ended:
            return .none
        }
    }

    /// The bus refused the nick or was unavailable; the client may try again, unless it is late.
    mutating func joinFailed() -> Action {
        switch state {
        case .joining(let isLate):
            state = .awaitingHello
            return isLate ? .closeForLateHello : .none
        case .endedWhileJoining:
            state = .ended
            return .none
        case .awaitingHello, .joined, .ended:
            return .none
        }
    }

    /// The connection ended; nil when it had ended already.
    mutating func connectionEnded() -> Action? {
        switch state {
        case .awaitingHello:
            state = .ended
            return Action.none
        case .joining:
            state = .endedWhileJoining
            return Action.none
        case .joined(let member):
            state = .ended
            return .leave(member)
        case .endedWhileJoining, .ended:
            return nil
        }
    }
}

extension SessionMembership.Action: Equatable {
    /// Members are the same when they are the same connection.
    static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.none, .none), (.closeForLateHello, .closeForLateHello): true
        case (.leave(let left), .leave(let right)): left.connectionID == right.connectionID
        default: false
        }
    }
}
