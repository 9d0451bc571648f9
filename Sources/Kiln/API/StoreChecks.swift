import KilnRuntimeC

extension Store {
    /// References must belong to this store: a funcref of another store would run that store's
    /// code against this store's execution state.
    func checkOwnership(_ value: Value) throws(KilnError) {
        if case .funcRef(let function?) = value, function.store !== self {
            throw KilnError.invalidOperation(reason: "a function of another store cannot be used in this store")
        }
        if case .exnRef(let reference?) = value, reference.store !== self {
            throw KilnError.invalidOperation(reason: "an exception of another store cannot be used in this store")
        }
    }

    /// Synchronous calls into the store are refused while it waits for an async host function
    /// on another thread.
    @inline(__always)
    func checkCanEnter() throws(KilnError) {
        try scheduler.checkCanEnter()
    }
}
