// EventRelay keeps a job's events in order across the moment the stream opens: events buffered
// before `attach` are replayed first, and events that arrive during the replay come after them.
import Foundation
import Synchronization
import Testing
import RenderAPI
@testable import RenderServer

@Suite struct EventRelayTests {
    @Test("events keep their order while the stream attaches, whatever the timing", arguments: 0..<20)
    func orderAcrossAttach(_ round: Int) async {
        let relay = EventRelay()
        let received = Mutex<[Int]>([])
        let total = 400
        let producer = Thread {
            for step in 0..<total {
                var event = StreamEvent(event: "progress", id: "r")
                event.step = step
                relay.receive(event)
                if step % 50 == round % 50 { usleep(50) }
            }
        }
        producer.start()
        usleep(UInt32(round * 40))
        // A slow sink: replaying the buffer takes long enough for new events to arrive meanwhile.
        relay.attach { event in
            usleep(5)
            received.withLock { $0.append(event.step ?? -1) }
        }
        let deadline = Date().addingTimeInterval(120)
        while received.withLock({ $0.count }) < total && Date() < deadline { usleep(1000) }
        let order = received.withLock { $0 }
        let firstWrong = zip(order, 0...).first { $0 != $1 }
        #expect(order.count == total && firstWrong == nil, "\(order.count) events; first out of order: \(String(describing: firstWrong))")
    }
}
