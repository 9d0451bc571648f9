import WasmParser
import WasmTypes

/// Exception handling in generated C.
///
/// A try block links a `kiln_handler` (a local of the C function, holding a jmp_buf) into the
/// store's handler chain and calls `_setjmp` on it: no allocation, no system call, about a dozen
/// instructions when nothing is thrown. `kiln_throw` longjmps to the innermost handler (or leaves
/// the entry, so that no throw crosses Swift frames); the handler's dispatch code unlinks it,
/// matches the tag and branches with the payload, or throws on outward. Every branch, return
/// and fallthrough that leaves a try block relinks the handler active at its target.
///
/// TCC keeps every local in memory, so locals hold their latest values after the longjmp.
extension FunctionLowering {
    /// A new handler: its index names `H<n>` and the caught-exception variable `E<n>`.
    private mutating func newHandler() -> Int {
        defer { handlerCount += 1 }
        return handlerCount
    }

    // MARK: - Wasm 3.0: try_table, throw, throw_ref

    mutating func lowerTryTable(_ blockType: BlockType, _ clauses: [CatchClause]) {
        let index = newHandler()
        let handler = CSyntax.handler(index)
        flushAll()
        // The dispatch runs in the context outside the try_table, where catch labels are resolved.
        emit("TRY_LINK(\(handler));")
        emit("if (kiln_setjmp(\(handler).jump)) {")
        emit("kiln_exception *x = CAUGHT;")
        emit("ctx->exec->handler = \(handler).prev;")
        let outside = frames[frames.count - 1].insideHandler
        frames[frames.count - 1].insideHandler = "\(handler).prev"
        for clause in clauses {
            switch clause {
            case .catch(let tag, let depth):
                emit("if (x->tag == ctx->tags[\(tag)]) {")
                catchBranch(depth: depth, tag: Int(tag), withReference: false)
                emit("}")
            case .catchRef(let tag, let depth):
                emit("if (x->tag == ctx->tags[\(tag)]) {")
                catchBranch(depth: depth, tag: Int(tag), withReference: true)
                emit("}")
            case .catchAll(let depth):
                catchBranch(depth: depth, tag: nil, withReference: false)
            case .catchAllRef(let depth):
                catchBranch(depth: depth, tag: nil, withReference: true)
            }
        }
        emit("kiln_throw(ctx->exec, x);")
        emit("}")
        frames[frames.count - 1].insideHandler = outside
        enterBlock(.tryTable, blockType)
        frames[frames.count - 1].handler = handler
        frames[frames.count - 1].insideHandler = "&\(handler)"
    }

    /// A matching catch clause: the payload (and the exnref) to the label's slots, then the jump.
    private mutating func catchBranch(depth: UInt32, tag: Int?, withReference: Bool) {
        let pushed = stack.count
        if let tag {
            let payload = module.types[Int(module.tags[tag])].parameters
            for (offset, type) in payload.enumerated() {
                stack.append(operand(type, .text(CSyntax.member("x->values[\(offset)]", type))))
            }
        }
        if withReference {
            stack.append(operand(.ref(ReferenceType(isNullable: false, heapType: .abstract(.exnRef))),
                                 .text("(void *)kiln_exception_keep(ctx->exec, x)")))
        }
        // Without a reference the exception is done once its payload is copied out.
        branch(to: depth, beforeJump: withReference ? nil : "kiln_exception_release(ctx->exec, x);")
        stack.removeLast(stack.count - pushed)
    }

    mutating func lowerThrow(tag: Int) {
        let payload = module.types[Int(module.tags[tag])].parameters
        flushAll()
        let base = stack.count - payload.count
        emit("{ kiln_exception *x = kiln_exception_new(ctx->exec, ctx->tags[\(tag)], \(payload.count)u);")
        for (offset, type) in payload.enumerated() {
            emit("\(CSyntax.member("x->values[\(offset)]", type)) = \(expression(stack[base + offset]));")
        }
        emit("kiln_throw(ctx->exec, x); }")
        stack.removeLast(payload.count)
        becomeDead()
    }

    mutating func lowerThrowRef() {
        let reference = popSimple()
        flushState()
        emit("if (!\(expression(reference))) TRAP(NULL_EXCEPTION_REFERENCE);")
        emit("kiln_throw(ctx->exec, (kiln_exception *)\(expression(reference)));")
        becomeDead()
    }

    // MARK: - Legacy exceptions: try, catch, catch_all, delegate, rethrow

    /// Layout of `try ... catch $a ... catch_all ... end`:
    /// ```
    /// TRY_LINK(H1); if (kiln_setjmp(H1.jump)) goto Ld;
    /// body; ctx->exec->handler = H1.prev; goto Lend;
    /// Ld:; ctx->exec->handler = H1.prev; E1 = kiln_exception_keep(ctx->exec, CAUGHT);
    /// if (E1->tag != ctx->tags[a]) goto Ln; payload -> slots; catch body; goto Lend;
    /// Ln:; catch_all body;
    /// Lend:;
    /// ```
    /// Without a catch_all, the last test's miss rethrows `E1`.
    mutating func lowerLegacy(_ instruction: BodyInstruction) throws(Unsupported) {
        if dead {
            switch instruction {
            case .legacyTry:
                deadDepth += 1
                return
            case .legacyDelegate:
                // Ends the block like `end`.
                if deadDepth > 0 {
                    deadDepth -= 1
                    return
                }
            case .legacyCatch, .legacyCatchAll:
                if deadDepth > 0 { return }
            default:
                return
            }
        }
        switch instruction {
        case .standard:
            break
        case .legacyTry(let blockType):
            let index = newHandler()
            let handler = CSyntax.handler(index)
            flushAll()
            let dispatch = newLabel()
            emit("TRY_LINK(\(handler));")
            emit("if (kiln_setjmp(\(handler).jump)) goto \(CSyntax.label(dispatch));")
            enterBlock(.legacyTry, blockType)
            frames[frames.count - 1].handler = handler
            frames[frames.count - 1].caught = CSyntax.caught(index)
            frames[frames.count - 1].insideHandler = "&\(handler)"
            frames[frames.count - 1].elseLabel = dispatch
        case .legacyCatch(let tag):
            beginCatch(tag: Int(tag))
        case .legacyCatchAll:
            beginCatch(tag: nil)
        case .legacyDelegate(let depth):
            var frame = frames[frames.count - 1]
            if !dead {
                flushAll()
                emit("ctx->exec->handler = \(frame.handler!).prev;")
                emit("goto \(CSyntax.label(frame.label));")
                frame.branchedTo = true
            }
            // The exception goes on to the handlers of the label, counted from outside the try.
            let target = frames.count - 2 - Int(depth)
            let targetHandler = frames[target].insideHandler
            if targetHandler == "HE" { usesEntryHandler = true }
            emitLabel(frame.elseLabel)
            emit("ctx->exec->handler = \(targetHandler);")
            emit("kiln_throw(ctx->exec, CAUGHT);")
            frame.handler = nil
            frame.kind = .block
            frames[frames.count - 1] = frame
            dead = true
            endBlock()
        case .legacyRethrow(let depth):
            let frame = frames[frames.count - 1 - Int(depth)]
            flushState()
            emit("kiln_throw(ctx->exec, \(frame.caught!));")
            becomeDead()
        }
    }

    /// Ends a stretch of a legacy try (its body or a catch body): a live fallthrough jumps to the
    /// end; code goes on at the frame's landing label (the handler's dispatch, or the next clause's
    /// test), which unlinks the handler if it is still linked.
    private mutating func jumpToEndAndLand(_ frame: inout Frame, unlinkOnFallthrough: Bool) {
        if !dead {
            if unlinkOnFallthrough, let handler = frame.handler { emit("ctx->exec->handler = \(handler).prev;") }
            emit("goto \(CSyntax.label(frame.label));")
            frame.branchedTo = true
        }
        emitLabel(frame.elseLabel)
        if let handler = frame.handler { emit("ctx->exec->handler = \(handler).prev;") }
    }

    /// `catch` or `catch_all`: ends the try body (or the previous catch body) and starts the
    /// clause's test and body.
    private mutating func beginCatch(tag: Int?) {
        var frame = frames[frames.count - 1]
        let caught = frame.caught!
        if !dead { flushAll() }
        jumpToEndAndLand(&frame, unlinkOnFallthrough: true)
        if frame.handler != nil {
            // The first clause: this is where the handler's longjmp lands.
            emit("\(caught) = kiln_exception_keep(ctx->exec, CAUGHT);")
            frame.handler = nil
            frame.kind = .legacyCatch
            frame.insideHandler = frames[frames.count - 2].insideHandler
        }
        dead = false
        frames[frames.count - 1] = frame
        resetStack(to: frame, types: [])
        if let tag {
            frame.elseLabel = newLabel()
            emit("if (\(caught)->tag != ctx->tags[\(tag)]) goto \(CSyntax.label(frame.elseLabel));")
            let payload = module.types[Int(module.tags[tag])].parameters
            for (offset, type) in payload.enumerated() {
                let slot = slotName(stack.count, type)
                emit("\(slot) = \(CSyntax.member("\(caught)->values[\(offset)]", type));")
                pushSlot(type)
            }
        } else {
            frame.sawCatchAll = true
        }
        frames[frames.count - 1] = frame
    }

    /// The end of a legacy try (called by `endBlock` before the frame is popped): a try without
    /// clauses rethrows from its dispatch; a last `catch` that misses rethrows.
    mutating func endLegacyTry() {
        var frame = frames[frames.count - 1]
        if frame.kind == .legacyCatch && frame.sawCatchAll { return }
        // endBlock has unlinked the handler on the fallthrough path already.
        jumpToEndAndLand(&frame, unlinkOnFallthrough: false)
        if frame.handler != nil {
            emit("kiln_throw(ctx->exec, CAUGHT);")
        } else {
            emit("kiln_throw(ctx->exec, \(frame.caught!));")
        }
        frame.handler = nil
        frames[frames.count - 1] = frame
        dead = true
    }
}
