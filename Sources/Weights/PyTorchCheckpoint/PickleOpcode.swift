// The pickle opcodes this reader interprets — the data-building subset of protocols 2–5 that
// torch.save and the Python objects found in checkpoints produce. Byte values and meanings follow
// CPython's Lib/pickletools.py. Opcodes left out are refused by the machine: the ones that find
// classes by other routes (INST, OBJ, EXT1/2/4), text persistent ids (PERSID), out-of-band buffers
// (NEXT_BUFFER, READONLY_BUFFER), and the text forms of protocol 0 (INT, FLOAT, STRING, PUT, GET …),
// which protocol 2 writers never emit.

/// A pickle opcode of the supported subset.
enum PickleOpcode: UInt8 {
    // Framing
    case proto = 0x80          // PROTO n: protocol version
    case frame = 0x95          // FRAME u64: a framing hint, no effect on the result
    case stop = 0x2E           // "." : return the top of the stack

    // Stack and marks
    case mark = 0x28           // "("
    case pop = 0x30            // "0"
    case popMark = 0x31        // "1"
    case dup = 0x32            // "2"

    // Scalars
    case none = 0x4E           // "N"
    case newTrue = 0x88
    case newFalse = 0x89
    case binInt = 0x4A         // "J" i32
    case binInt1 = 0x4B        // "K" u8
    case binInt2 = 0x4D        // "M" u16
    case long1 = 0x8A          // LONG1 n, n bytes two's complement
    case long4 = 0x8B          // LONG4 i32 n, n bytes
    case binFloat = 0x47       // "G" f64 big-endian

    // Strings and bytes
    case binUnicode = 0x58     // "X" u32 length, UTF-8
    case shortBinUnicode = 0x8C
    case binUnicode8 = 0x8D
    case binString = 0x54      // "T" i32 length (Python 2 str)
    case shortBinString = 0x55 // "U"
    case binBytes = 0x42       // "B" u32 length
    case shortBinBytes = 0x43  // "C"
    case binBytes8 = 0x8E
    case byteArray8 = 0x96

    // Containers
    case emptyDict = 0x7D      // "}"
    case emptyList = 0x5D      // "]"
    case emptyTuple = 0x29     // ")"
    case emptySet = 0x8F
    case dict = 0x64           // "d": dict from the items above the mark
    case list = 0x6C           // "l"
    case tuple = 0x74          // "t"
    case tuple1 = 0x85
    case tuple2 = 0x86
    case tuple3 = 0x87
    case frozenSet = 0x91
    case addItems = 0x90
    case append = 0x61         // "a"
    case appends = 0x65        // "e"
    case setItem = 0x73        // "s"
    case setItems = 0x75       // "u"

    // Memo
    case binPut = 0x71         // "q" u8
    case longBinPut = 0x72     // "r" u32
    case memoize = 0x94
    case binGet = 0x68         // "h" u8
    case longBinGet = 0x6A     // "j" u32

    // Names, calls and objects — recorded, never performed
    case global = 0x63         // "c" module\nname\n
    case stackGlobal = 0x93
    case reduce = 0x52         // "R"
    case build = 0x62          // "b"
    case newObj = 0x81
    case newObjEx = 0x92
    case binPersId = 0x51      // "Q"
}
