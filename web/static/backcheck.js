/* Starts the BackCheck chat widget (rasa-webchat 1.0.1, served by the Rasa server
 * at ../webchat.js) inside #backcheck-chat, if the page has one. It talks to
 * Rasa's socketio channel on this same server. Also exposes
 * window.BackCheck.fixMarkdown for sites that embed the widget themselves. */
(function () {
  "use strict";

  /* The bot writes one item per line ("**Why I think so:** ...", "- a step",
   * "_This is guidance, not a diagnosis._"), but in Markdown single line breaks
   * are just spaces, and a line after a list item is swallowed into that item.
   * Give every line its own paragraph and keep consecutive "- " lines together
   * as one list, so the widget's Markdown renderer shows what the bot meant. */
  var LIST_ITEM = /^\s*(?:[-*+]|\d+[.)])\s+/;
  function toBlocks(text) {
    if (typeof text !== "string" || text.indexOf("\n") === -1) return text;
    var lines = text.replace(/\r\n?/g, "\n").split("\n");
    var out = "";
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i].replace(/\s+$/, "");
      if (!line) continue;
      if (out) {
        var previous = lines[i - 1] || "";
        out += LIST_ITEM.test(line) && LIST_ITEM.test(previous) ? "\n" : "\n\n";
      }
      out += line;
    }
    return out;
  }

  // Runs before the widget's own handler for the same event (rasa-webchat
  // 1.0.1 registers onSocketEvent listeners first), so it sees the fixed text.
  function onBotUttered(message) {
    if (message && typeof message.text === "string") message.text = toBlocks(message.text);
  }

  // For sites that embed the widget themselves:
  //   onSocketEvent: { bot_uttered: BackCheck.fixMarkdown }
  window.BackCheck = { fixMarkdown: onBotUttered, toBlocks: toBlocks };

  var target = document.getElementById("backcheck-chat");
  if (!target) return;

  if (!window.WebChat || typeof window.WebChat.default !== "function") {
    target.innerHTML =
      '<p class="chat-fallback">The chat could not be loaded. Please try again in a moment.</p>';
    return;
  }

  // Quick replies are <div>s: make them reachable and usable from the keyboard.
  function enhanceReplies(root) {
    var replies = root.querySelectorAll(".rw-reply:not([role])");
    for (var i = 0; i < replies.length; i++) {
      var reply = replies[i];
      reply.setAttribute("role", "button");
      reply.setAttribute("tabindex", "0");
      reply.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          event.currentTarget.click();
        }
      });
    }
  }
  if (window.MutationObserver) {
    new MutationObserver(function () { enhanceReplies(target); })
      .observe(target, { childList: true, subtree: true });
  }

  // Short, readable pauses between bot messages (the default waits up to 3 s).
  function messageDelay(message) {
    return Math.max(250, Math.min((message || "").length * 5, 900));
  }

  window.WebChat.default(
    {
      socketUrl: window.location.origin,
      socketPath: "/socket.io/",
      initPayload: "/greet",
      title: "BackCheck",
      subtitle: "Back discomfort after training",
      inputTextFieldHint: "How does your back feel?",
      connectingText: "Connecting to BackCheck…",
      embedded: true,
      showCloseButton: false,
      hideWhenNotConnected: false,
      // The conversation and its session id stay in localStorage; on reload the
      // widget asks the server for the same session (session_persistence).
      params: { storage: "local" },
      customMessageDelay: messageDelay,
      onSocketEvent: { bot_uttered: onBotUttered },
      mainColor: "#0f5f5c",
      userBackgroundColor: "#0f5f5c",
      userTextColor: "#ffffff",
      assistBackgoundColor: "#f1f6f5",
      assistTextColor: "#14232a",
    },
    target
  );
})();
