/// A change in whether a sharded subscription receives one channel's
/// messages: cut when its master became unreachable, dropped it, or no
/// longer serves its slot; resumed once Redis confirmed it subscribed again
/// (at the same master, or where its slot lives now). Whatever was published
/// between the two never arrives, so a consumer that must miss nothing
/// holds the channel's later messages from the cut and catches up from
/// stored state after the resumption.
public enum ChannelChange: Sendable, Equatable {
    case cut([String])
    case resumed([String])
}
