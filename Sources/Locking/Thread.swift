import CSystem

/// Starts a thread that runs `body` and takes no signals: the host's own threads handle them
/// (the library lives in a firmware process; the daemon waits for its signals on its main
/// thread). Nil when no thread could be made. What `body` captures lives until it returns.
public func startThread(_ body: @escaping () -> Void) -> pthread_t? {
    var all = sigset_t()
    var previous = sigset_t()
    sigfillset(&all)
    pthread_sigmask(SIG_SETMASK, &all, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var handle = pthread_t()
    let created = pthread_create(&handle, nil, { context in
        Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().body()
        return nil
    }, context)
    guard created == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        return nil
    }
    return handle
}

/// A thread's closure, carried through pthread_create's context pointer.
final class ThreadBody {
    let body: () -> Void

    init(_ body: @escaping () -> Void) { self.body = body }
}
