// The call screens, drawn over whatever page is open: the incoming-call dialog (it
// rings), the in-call panel (videos, mute, camera, hang up, timer, connection state)
// and a short note for a missed call. Pure DOM: calls.js decides what to show.

import { h } from "./dom.js";
import { formatDuration, spokenDuration } from "./calls-common.js";
import { badgeFor } from "./premium/badge.js";

const CONNECTION_TEXT = {
  new: "Connecting…",
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  disconnected: "Connection lost",
  failed: "Connection failed",
  closed: "",
};

function displayName(party) {
  return party?.display_name || (party?.username ? `@${party.username}` : "Someone");
}

function avatar(party) {
  if (party?.avatar_url) return h("img", { class: "call-avatar", src: party.avatar_url, alt: "" });
  const initial = (party?.display_name || party?.username || "?").charAt(0).toUpperCase();
  return h("span", { class: "call-avatar", "aria-hidden": "true" }, initial);
}

// ---- the ring -----------------------------------------------------------------------

/** A ringtone made with Web Audio (no sound file to load): two tones, twice, then a pause. */
class Ringer {
  constructor() {
    this.context = null;
    this.timer = null;
  }

  start() {
    if (this.timer) return;
    try {
      this.context ||= new AudioContext();
      // Without an earlier click on the page the browser may keep it silent.
      if (this.context.state === "suspended") this.context.resume().catch(() => {});
    } catch {
      return; // no Web Audio: the dialog still shows
    }
    const ring = () => {
      const ctx = this.context;
      const now = ctx.currentTime;
      const gain = ctx.createGain();
      gain.gain.value = 0;
      gain.connect(ctx.destination);
      for (const frequency of [440, 480]) {
        const osc = ctx.createOscillator();
        osc.frequency.value = frequency;
        osc.connect(gain);
        osc.start(now);
        osc.stop(now + 1.3);
      }
      for (const start of [0, 0.7]) {
        gain.gain.setValueAtTime(0, now + start);
        gain.gain.linearRampToValueAtTime(0.12, now + start + 0.03);
        gain.gain.setValueAtTime(0.12, now + start + 0.45);
        gain.gain.linearRampToValueAtTime(0, now + start + 0.5);
      }
    };
    ring();
    this.timer = setInterval(ring, 3000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}

// ---- the screens --------------------------------------------------------------------

export class CallScreen {
  /**
   * @param {object} on - what the buttons do: answer(media), decline(), hangup(),
   *   mute(), camera(), close()
   */
  constructor(on) {
    this.on = on;
    this.ringer = new Ringer();
    this.timer = null;
    this.returnFocus = null;
    this.title = document.title;
    this.layer = h("div", { class: "call-layer", id: "call-layer" });
    this.announcer = h("div", { class: "call-sr", id: "call-announcer", "aria-live": "assertive", "aria-atomic": "true" });
    this.layer.append(this.announcer);
    document.body.append(this.layer);
  }

  /** Say `text` to screen readers now (incoming calls, a call that ended). */
  announce(text) {
    this.announcer.textContent = "";
    requestAnimationFrame(() => {
      this.announcer.textContent = text;
    });
  }

  rememberFocus() {
    const active = document.activeElement;
    if (active && active !== document.body && !this.layer.contains(active)) this.returnFocus = active;
  }

  restoreFocus(within) {
    if (!within || !within.contains(document.activeElement)) return;
    const target = this.returnFocus?.isConnected ? this.returnFocus : document.getElementById("main");
    target?.focus();
  }

  // ---- incoming -------------------------------------------------------------------

  showIncoming(call) {
    this.hideIncoming(false);
    const caller = call.caller;
    const kind = call.media === "video" ? "video" : "audio";
    const answer = (media) =>
      h("button", { type: "button", class: "button", "data-answer": media, onclick: () => this.on.answer(media) }, media === "video" ? "Answer video" : "Answer audio");
    this.dialogError = h("p", { class: "form-error", role: "alert", id: "call-dialog-error" });
    this.dialog = h(
      "div",
      {
        class: "call-dialog",
        id: "call-dialog",
        role: "dialog",
        "aria-modal": "false",
        "aria-labelledby": "call-dialog-title",
        "aria-describedby": "call-dialog-desc",
        "data-call-id": call.id,
        onkeydown: (event) => {
          if (event.key === "Escape") this.on.decline();
        },
      },
      h("div", { class: "call-dialog__who" }, h("span", { class: "call-dialog__avatar" }, avatar(caller), badgeFor(caller)), h("div", {}, h("h2", { id: "call-dialog-title" }, `Incoming ${kind} call`), h("p", { id: "call-dialog-desc" }, h("strong", {}, displayName(caller)), caller.display_name && caller.username ? ` @${caller.username}` : "", " is calling you."))),
      this.dialogError,
      h(
        "div",
        { class: "actions call-dialog__actions" },
        answer("audio"),
        answer("video"),
        h("button", { type: "button", class: "button button--danger", id: "call-decline", onclick: () => this.on.decline() }, "Decline"),
      ),
    );
    this.layer.append(this.dialog);
    this.rememberFocus();
    this.dialog.querySelector(`[data-answer="${kind}"]`).focus();
    this.announce(`Incoming ${kind} call from ${displayName(caller)}.`);
    this.ringer.start();
    document.title = `Incoming call · ${this.title}`;
  }

  /** Busy while answering (buttons disabled), with an error if answering failed. */
  incomingBusy(busy, error = "") {
    if (!this.dialog) return;
    for (const button of this.dialog.querySelectorAll("button")) button.disabled = busy;
    this.dialog.setAttribute("aria-busy", String(busy));
    this.dialogError.textContent = error;
  }

  hideIncoming(restore = true) {
    this.ringer.stop();
    document.title = this.title;
    if (!this.dialog) return;
    const dialog = this.dialog;
    this.dialog = null;
    if (restore) this.restoreFocus(dialog);
    dialog.remove();
  }

  // ---- the call ------------------------------------------------------------------

  /** Open the in-call panel: `peer` is the other party, `media` the call's kind. */
  showPanel({ peer, media, status }) {
    this.closePanel(false);
    this.peer = peer;
    this.remote = h("video", { class: "call-panel__remote", id: "call-remote", autoplay: true, playsinline: true, "aria-label": `Video of ${displayName(peer)}` });
    this.local = h("video", { class: "call-panel__local", id: "call-local", autoplay: true, playsinline: true, muted: true, "aria-label": "Your camera", hidden: true });
    this.local.muted = true;
    this.placeholder = h("div", { class: "call-panel__placeholder", id: "call-placeholder" }, avatar(peer), h("span", { class: "call-panel__camera-off" }, ""));
    this.status = h("span", { id: "call-status", role: "status", "aria-live": "polite" }, status);
    this.clock = h("span", { class: "call-panel__timer", id: "call-timer", role: "timer", hidden: true }, "0:00");
    this.connection = h("span", { class: "call-panel__connection", id: "call-connection", "data-state": "new" });
    this.error = h("p", { class: "form-error", role: "alert", id: "call-error" });
    this.playSound = h("button", { type: "button", class: "button button--small call-panel__play", hidden: true, onclick: () => this.playRemote() }, "Play sound");
    this.muteButton = h("button", { type: "button", class: "button button--secondary button--small", id: "call-mute", "aria-pressed": "false", onclick: () => this.on.mute() }, "Mute");
    this.cameraButton = h("button", { type: "button", class: "button button--secondary button--small", id: "call-camera", "aria-pressed": "false", onclick: () => this.on.camera() }, "Camera");
    this.hangupButton = h("button", { type: "button", class: "button button--danger button--small", id: "call-hangup", onclick: () => this.on.hangup() }, "Hang up");
    this.closeButton = h("button", { type: "button", class: "button button--secondary button--small", id: "call-close", hidden: true, onclick: () => this.on.close() }, "Close");
    this.panel = h(
      "section",
      { class: "call-panel", id: "call-panel", "aria-labelledby": "call-panel-title", "data-phase": "outgoing", "data-media": media },
      h("div", { class: "call-panel__stage" }, this.remote, this.placeholder, this.local, this.playSound),
      h(
        "div",
        { class: "call-panel__info" },
        // The badge sits beside the title, which setMedia() rewrites as text.
        h("div", { class: "call-panel__title" }, h("h2", { id: "call-panel-title" }, `${media === "video" ? "Video" : "Audio"} call with ${displayName(peer)}`), badgeFor(peer)),
        h("p", { class: "call-panel__status" }, this.status, " ", this.clock, " ", this.connection),
      ),
      this.error,
      h("div", { class: "call-panel__controls", role: "group", "aria-label": "Call controls" }, this.muteButton, this.cameraButton, this.hangupButton, this.closeButton),
    );
    this.layer.append(this.panel);
    this.rememberFocus();
    this.hangupButton.focus();
  }

  setPhase(phase) {
    if (this.panel) this.panel.dataset.phase = phase;
  }

  setMedia(media) {
    if (!this.panel) return;
    this.panel.dataset.media = media;
    this.panel.querySelector("#call-panel-title").textContent = `${media === "video" ? "Video" : "Audio"} call with ${displayName(this.peer)}`;
  }

  setStatus(text) {
    if (this.status && this.status.textContent !== text) this.status.textContent = text;
  }

  setConnection(state) {
    if (!this.connection) return;
    this.connection.dataset.state = state;
    const text = CONNECTION_TEXT[state] ?? state;
    this.connection.textContent = text ? `· ${text}` : "";
  }

  setError(text) {
    if (this.error) this.error.textContent = text;
  }

  /** Mute and camera buttons: pressed = muted / camera on. */
  setControls({ muted, cameraOn, enabled = true }) {
    if (!this.panel) return;
    this.muteButton.setAttribute("aria-pressed", String(Boolean(muted)));
    this.muteButton.textContent = muted ? "Unmute" : "Mute";
    this.muteButton.setAttribute("aria-label", "Mute microphone");
    this.cameraButton.setAttribute("aria-pressed", String(Boolean(cameraOn)));
    this.cameraButton.textContent = cameraOn ? "Camera on" : "Camera off";
    this.cameraButton.setAttribute("aria-label", "Camera");
    this.muteButton.disabled = !enabled;
    this.cameraButton.disabled = !enabled;
  }

  setLocal(stream) {
    if (!this.local) return;
    const video = stream.getVideoTracks().some((t) => t.readyState === "live");
    if (this.local.srcObject !== stream) this.local.srcObject = stream;
    this.local.hidden = !video;
    if (video) this.local.play().catch(() => {});
  }

  setRemote(stream) {
    if (!this.remote) return;
    if (this.remote.srcObject !== stream) {
      this.remote.srcObject = stream;
      this.playRemote();
    }
    const video = stream.getVideoTracks().some((t) => t.readyState === "live" && !t.muted);
    this.remote.classList.toggle("call-panel__remote--off", !video);
    this.placeholder.hidden = video;
    this.placeholder.querySelector(".call-panel__camera-off").textContent = this.panel?.dataset.media === "video" && stream.getTracks().length ? "Camera off" : "";
  }

  playRemote() {
    // Sound needs an earlier click on the page; answering or calling was one, normally.
    this.remote.play().then(
      () => {
        this.playSound.hidden = true;
      },
      (error) => {
        if (error.name === "NotAllowedError") this.playSound.hidden = false;
      },
    );
  }

  startTimer() {
    if (!this.clock) return;
    const started = Date.now();
    this.clock.hidden = false;
    clearInterval(this.timer);
    const tick = () => {
      this.clock.textContent = formatDuration((Date.now() - started) / 1000);
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  stopTimer() {
    clearInterval(this.timer);
    this.timer = null;
  }

  /** The call is over: the panel stays with the outcome until closed. */
  showEnded(text, seconds = null) {
    if (!this.panel) return;
    this.stopTimer();
    this.setPhase("ended");
    this.clock.hidden = true;
    this.setConnection("closed");
    this.setStatus(text);
    this.announce(seconds ? `Call ended after ${spokenDuration(seconds)}.` : text);
    this.remote.srcObject = null;
    this.local.srcObject = null;
    this.local.hidden = true;
    this.placeholder.hidden = false;
    this.placeholder.querySelector(".call-panel__camera-off").textContent = "";
    this.playSound.hidden = true;
    const hadFocus = this.panel.contains(document.activeElement);
    this.muteButton.hidden = true;
    this.cameraButton.hidden = true;
    this.hangupButton.hidden = true;
    this.closeButton.hidden = false;
    if (hadFocus) this.closeButton.focus();
  }

  closePanel(restore = true) {
    this.stopTimer();
    if (!this.panel) return;
    const panel = this.panel;
    this.panel = null;
    if (restore) this.restoreFocus(panel);
    panel.remove();
  }

  // ---- notes ----------------------------------------------------------------------

  /** A short note (a missed call), with an optional action button; it goes by itself. */
  note(text, action = null) {
    this.noteElement?.remove();
    const close = h("button", { type: "button", class: "button button--link", onclick: () => note.remove() }, "Dismiss");
    const note = h("div", { class: "call-note", id: "call-note", role: "status" }, h("span", {}, text), action, close);
    this.noteElement = note;
    this.layer.append(note);
    setTimeout(() => note.remove(), 20_000);
  }
}
