import Foundation

/// Runs `body` over `0..<count` split into contiguous chunks on every core, and returns the
/// chunks' results in order. Errors are deterministic: the error of the lowest-numbered failing
/// chunk (each chunk works in order, so that is the first failing item overall). Used where
/// work is per function and independent (decoding and validating bodies).
func inParallelChunks<T>(count: Int, minimumChunk: Int = 256, _ body: (Range<Int>) throws(KilnError) -> [T]) throws(KilnError) -> [T] {
    let workers = min(ProcessInfo.processInfo.activeProcessorCount, max(1, count / minimumChunk))
    if workers <= 1 { return try body(0..<count) }
    // More chunks than workers: cores that finish early take the next one.
    let chunkCount = workers * 4
    let chunkSize = (count + chunkCount - 1) / chunkCount
    let results = UnsafeMutableBufferPointer<Result<[T], KilnError>?>.allocate(capacity: chunkCount)
    results.initialize(repeating: nil)
    defer { results.deinitialize(); results.deallocate() }
    withoutActuallyEscaping(body) { body in
        let slots = UncheckedSendable(results)
        let work = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
            let range = min(count, chunk * chunkSize)..<min(count, (chunk + 1) * chunkSize)
            do throws(KilnError) {
                slots.value[chunk] = .success(try work.value(range))
            } catch {
                slots.value[chunk] = .failure(error)
            }
        }
    }
    var all: [T] = []
    all.reserveCapacity(count)
    for result in results {
        switch result! {
        case .success(let items): all += items
        case .failure(let error): throw error
        }
    }
    return all
}

/// For handing values to concurrentPerform that are only ever used by one chunk at a time.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
