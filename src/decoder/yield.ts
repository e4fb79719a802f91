/**
 * Lets queued messages (a cancel request) run. An inference promise resolves in the
 * microtask queue, so a decode loop that only awaits runs would never see a message
 * until it finished. A MessageChannel hop is a macrotask queued behind messages that
 * already arrived, without setTimeout's 4 ms clamp. (scheduler.yield() is not used: its
 * continuation is prioritised ahead of pending messages, which is the opposite of the aim.)
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
