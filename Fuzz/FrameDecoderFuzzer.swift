// libFuzzer entry point: feeds arbitrary bytes to the chat.v1.json frame
// decoder (and so to the JSON parser and the nick/text/ref rules).
// Build and run with ./scripts/fuzz.sh.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let frame = ChatV1Codec.decode(bytes)
    if case .success(let message) = frame.message {
        switch message {
        case .hello(let nick): _ = Nick(validating: nick)
        case .say(let text), .whisper(_, let text): _ = MessageText.isValid(text)
        case .who, .ping: break
        }
        // Whatever was accepted must survive being echoed back.
        let echoed = ChatV1Codec.encode(.pong(ref: frame.ref))
        precondition((try? JSONParser.parse(echoed)) != nil, "an echoed ref produced invalid JSON")
    }
    return 0
}
