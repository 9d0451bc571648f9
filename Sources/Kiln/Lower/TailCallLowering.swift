import WasmParser
import WasmTypes

/// Tail calls (`return_call`, `return_call_indirect`, `return_call_ref`) in constant native stack.
///
/// C has no guaranteed tail call, so a tail call stores its arguments in the exec's tail-call
/// buffer, names the callee (its record's `tail_thunk`, `tail_code` and context) and returns.
/// The function that made it is emitted as `fnN_body`; its address `fnN` is a wrapper that runs
/// the pending tail calls in a loop (`kiln_tail_loop`) and returns the last one's results. A tail
/// call thus never nests: the loop calls each callee's tail entry, which runs the callee's body
/// and returns, leaving its own tail call (if any) pending for the same loop. A function that
/// tail-calls itself jumps back to its start instead. Functions without tail calls are untouched.
extension FunctionLowering {
    mutating func lowerReturnCall(function: Int) {
        let calleeType = module.functionType(of: UInt32(function))
        // Arguments in slots: a self tail call assigns parameters that later arguments may read.
        flushAll()
        let arguments = stack.suffix(calleeType.parameters.count).map(\.expr)
        stack.removeLast(calleeType.parameters.count)
        if function == functionIndex {
            // A fresh activation of this function: parameters from the arguments, locals zeroed.
            restoreHandler(to: frames[0].insideHandler)
            for (index, argument) in arguments.enumerated() {
                if case .local(UInt32(index)) = arena[argument] { continue }
                emit("\(CSyntax.local(index)) = \(arena.text(argument));")
            }
            for (offset, local) in body.locals.enumerated() {
                let name = CSyntax.local(type.parameters.count + offset)
                emit(local == .v128 ? "{ kiln_value z = {0}; \(name) = z; }" : "\(name) = 0;")
            }
            emit("goto \(CSyntax.selfTailLabel);")
            usesSelfTailCall = true
            return
        }
        emitTailCall(calleeType, function: "((kiln_function *)ctx->funcs[\(function)])",
                     context: "ctx->funcs[\(function)]->ctx", arguments: arguments)
    }

    /// Leaves the call to `function` (a `kiln_function *` expression) pending and returns.
    mutating func emitTailCall(_ calleeType: FunctionType, function: String, context: String, arguments: [Expr]) {
        makesTailCalls = true
        restoreHandler(to: frames[0].insideHandler)
        emit("{ kiln_value *tv = ctx->exec->tail_values; kiln_function *tf = \(function);")
        for (index, (argument, parameter)) in zip(arguments, calleeType.parameters).enumerated() {
            emit("\(CSyntax.member("tv[\(index)]", parameter)) = \(arena.text(argument));")
        }
        emit("ctx->exec->tail_ctx = \(context); ctx->exec->tail_code = tf->tail_code; ctx->exec->tail_thunk = tf->tail_thunk; }")
        // The wrapper reads the results from the buffer once the pending calls are done.
        switch type.results.first {
        case nil: emit("return;")
        case .v128: emit("{ kiln_value z = {0}; return z; }")
        default: emit("return 0;")
        }
    }
}

/// The wrapper and tail entry of a function that makes tail calls.
enum TailCalls {
    /// `fnN`: calls the body, then runs the tail calls it left pending.
    static func wrapper(_ index: Int, _ type: FunctionType) -> String {
        let body = CSyntax.tailBody(index)
        let returnType = CSyntax.returnType(type)
        var text = "static \(returnType) \(body)(" + CSyntax.parameterList(type, context: "kiln_instance *", named: false) + ");\n"
        text += "static \(returnType) \(CSyntax.function(index))(" + CSyntax.parameterList(type, context: "kiln_instance *ctx", named: true) + ") {\n"
        var arguments = ["ctx"] + type.parameters.indices.map(CSyntax.local)
        arguments += type.results.indices.dropFirst().map(CSyntax.resultPointer)
        let call = "\(body)(\(arguments.joined(separator: ", ")))"
        text += type.results.isEmpty ? "    \(call);\n" : "    \(returnType) r = \(call);\n"
        text += "    if (ctx->exec->tail_thunk) {\n        kiln_tail_loop(ctx->exec);\n"
        for (offset, result) in type.results.enumerated() {
            let value = CSyntax.member("ctx->exec->tail_values[\(offset)]", result)
            text += offset == 0 ? "        r = \(value);\n" : "        *\(CSyntax.resultPointer(offset)) = \(value);\n"
        }
        text += "    }\n"
        return text + (type.results.isEmpty ? "}\n" : "    return r;\n}\n")
    }

    /// `fnN_tail(code, ctx, values)`: runs the body on the arguments in `values`, leaving the
    /// results there unless the body left another tail call pending.
    static func entry(_ index: Int, _ type: FunctionType) -> String {
        ModuleLowering.valuesThunk(
            name: CSyntax.tailEntry(index), callee: CSyntax.tailBody(index), context: "(kiln_instance *)ctx", type,
            beforePacking: "if (((kiln_instance *)ctx)->exec->tail_thunk) return;")
    }
}
