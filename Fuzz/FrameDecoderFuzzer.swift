// libFuzzer entry point: feeds arbitrary bytes to the frame decoders of both
// protocol versions (and so to the JSON parser and the nick/text/ref rules).
// Build and run with ./scripts/fuzz.sh; the chaos suite's long mode runs it.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    check(ChatV1Codec.decode(bytes), echo: { ChatV1Codec.encode($0) })
    check(ChatV2Codec.decode(bytes), echo: { ChatV2Codec.encode($0) })
    return 0
}

private func check(_ frame: DecodedFrame, echo: (ServerEvent) -> [UInt8]) {
    guard case .success(let message) = frame.message else { return }
    switch message {
    case .hello(let nick, _): _ = Nick(validating: nick)
    case .say(let text), .whisper(_, let text): _ = MessageText.isValid(text)
    case .who, .ping: break
    }
    // Whatever was accepted must survive being echoed back.
    let echoed = echo(.pong(ref: frame.ref))
    precondition((try? JSONParser.parse(echoed)) != nil, "an echoed ref produced invalid JSON")
}
