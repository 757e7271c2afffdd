import ChatProtocol
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle

/// One client's session: reads the connection's messages in order, applies
/// `SessionStateMachine`, and carries out its actions on the bus.
///
/// Messages are handled one at a time, so the replies and events a client's
/// messages cause reach it in the order it sent them.
actor ChatSession {
    private let node: ChatNode
    private let connectionID: UInt64
    private let outlet: ConnectionOutlet
    private let codec: any ChatCodec.Type
    private var machine: SessionStateMachine
    private var member: LocalMember?
    private var isGoingAway = false
    private var leaveReason = LeaveReason.quit

    init(node: ChatNode, channel: any Channel, version: ProtocolVersion) {
        self.node = node
        self.connectionID = node.nextConnectionID()
        self.outlet = ConnectionOutlet(channel: channel)
        self.codec = version.codec
        self.machine = SessionStateMachine(
            version: version,
            rate: node.configuration.rate,
            burst: node.configuration.burst,
            now: .now
        )
    }

    /// Serves the connection until it closes, then leaves the chat.
    func run(inbound: NIOAsyncChannelInboundStream<ConnectionEvent>) async {
        node.metrics.connections.increment()
        defer { node.metrics.connections.decrement() }
        await withGracefulShutdownHandler {
            do {
                for try await event in inbound {
                    switch event {
                    case .message(let payload):
                        await handle(payload)
                    case .heartbeatTimedOut:
                        node.metrics.heartbeatTimeouts.increment()
                        leaveReason = .timeout
                    }
                }
            } catch {
                node.logger.debug("connection read failed", metadata: ["error": "\(error)"])
            }
        } onGracefulShutdown: {
            Task { await self.goAway() }
        }
        await leave(reason: leaveReason)
    }

    /// The node is shutting down: release the nick first, so a client that
    /// reconnects elsewhere at once can take it back, then close with 1001.
    func goAway() async {
        isGoingAway = true
        await leave(reason: .quit)
        outlet.close(.goingAway, reason: "node shutting down")
    }

    private func leave(reason: LeaveReason) async {
        guard let member else { return }
        self.member = nil
        await node.bus.leave(member, reason: reason)
    }

    private func handle(_ payload: [UInt8]) async {
        guard !isGoingAway else { return }
        node.metrics.messagesReceived.increment()
        switch machine.receive(payload, now: .now) {
        case .reply(let event):
            if case .error(.rateLimited, _, _) = event { node.metrics.rateLimited.increment() }
            reply(event)
        case .replyAndCloseForFlooding(let event):
            node.metrics.rateLimited.increment()
            reply(event)
            outlet.close(.policyViolation, reason: "too many messages")
        case .join(let nick, let ref):
            await join(nick, ref: ref)
        case .say(let text, let ref):
            await say(text, ref: ref)
        case .whisper(let recipient, let text, let ref):
            await whisper(text, to: recipient, ref: ref)
        case .who(let ref):
            await who(ref: ref)
        }
    }

    private func join(_ nick: Nick, ref: String?) async {
        let candidate = LocalMember(connectionID: connectionID, nick: nick, outlet: outlet)
        do {
            switch try await node.bus.join(candidate, ref: ref) {
            case .joined:
                member = candidate
                machine.joined(as: nick)
                outlet.channel.triggerUserOutboundEvent(SessionJoinedEvent(), promise: nil)
            case .nickTaken:
                reply(.error(.nickTaken, ref: ref))
            }
        } catch {
            unavailable(error, ref: ref)
        }
    }

    private func say(_ text: String, ref: String?) async {
        guard let member else { return }
        let line = ChatLine(id: node.messageIDs.next(), from: member.nick.canonical, text: text, ts: Clock.milliseconds())
        do {
            try await node.bus.broadcast(line, from: member, ref: ref)
        } catch {
            unavailable(error, ref: ref)
        }
    }

    private func whisper(_ text: String, to recipient: NickKey, ref: String?) async {
        guard let member else { return }
        let draft = DirectDraft(id: node.messageIDs.next(), from: member.nick.canonical, text: text, ts: Clock.milliseconds())
        do {
            if try await node.bus.whisper(draft, to: recipient, from: member, ref: ref) == .noSuchUser {
                reply(.error(.noSuchUser, ref: ref))
            }
        } catch {
            unavailable(error, ref: ref)
        }
    }

    private func who(ref: String?) async {
        do {
            reply(.users(try await node.bus.users(), ref: ref))
        } catch {
            unavailable(error, ref: ref)
        }
    }

    private func unavailable(_ error: BusError, ref: String?) {
        node.metrics.busFailures.increment()
        node.logger.debug("bus unavailable", metadata: ["error": "\(error.message)"])
        reply(.error(.unavailable, ref: ref))
    }

    private func reply(_ event: ServerEvent) {
        outlet.send(ByteBuffer(bytes: codec.encode(event)))
        node.metrics.eventsDelivered.increment()
    }
}
