/* Starts the BackCheck chat widget (rasa-webchat 1.0.1, loaded from ../webchat.js)
 * inside #backcheck-chat. It talks to Rasa's socketio channel on this same server. */
(function () {
  "use strict";

  var target = document.getElementById("backcheck-chat");
  if (!target) return;

  if (!window.WebChat || typeof window.WebChat.default !== "function") {
    target.innerHTML =
      '<p class="chat-fallback">The chat widget could not be loaded. ' +
      "If you run BackCheck yourself: <code>npm ci --prefix web</code>, then restart it.</p>";
    return;
  }

  // Short, readable pauses between bot messages (the default waits up to 3 s).
  function messageDelay(message) {
    var delay = (message || "").length * 6;
    return Math.max(250, Math.min(delay, 900));
  }

  window.WebChat.default(
    {
      socketUrl: window.location.origin,
      socketPath: "/socket.io/",
      initPayload: "/greet",
      title: "BackCheck",
      subtitle: "Back discomfort after training",
      inputTextFieldHint: "e.g. tight lower back after deadlifts",
      connectingText: "Connecting to BackCheck…",
      embedded: true,
      showCloseButton: false,
      hideWhenNotConnected: false,
      // The conversation (and its session id) stays in localStorage, so a
      // reload picks up the same conversation on the server.
      params: { storage: "local" },
      customMessageDelay: messageDelay,
      mainColor: "#0f5f5c",
      userBackgroundColor: "#0f5f5c",
      userTextColor: "#ffffff",
      assistBackgoundColor: "#f1f5f4",
      assistTextColor: "#1b2a2f",
    },
    target
  );
})();
