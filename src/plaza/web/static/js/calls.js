// Calls on every signed-in page (layout.js loads this module with the stream): call
// buttons, the incoming-call dialog and the in-call panel.
//
// The server is the source of truth and speaks through the page's one stream
// ("plaza:stream" events): call.incoming rings, call.answered connects the caller,
// call.answered_elsewhere silences this device, call.candidates and call.negotiate
// carry the connection's steps, call.ended closes everything with the outcome. This
// module holds at most one call per tab. Tests read its connection through
// `window.plazaCall.pc`.
//
// A tab that reloads (or moves to another page) while a call rings finds it again
// (sessionStorage + GET /calls/{id}); a tab that goes away during a call hangs up.

import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { busy } from "./forms.js";
import { checkBox, fillCallButtons, recheckAllCallButtons, recheckCallButtons, showRefusal } from "./calls-buttons.js";
import { endedText, postOnUnload, refusalRule, refusalSentence } from "./calls-common.js";
import { CallSession, iceConfiguration, openMedia } from "./calls-session.js";
import { CallScreen } from "./calls-ui.js";

const RING_KEY = "plaza.call.ringing";
const STYLESHEET = "/static/css/calls.css";
// A replayed call.incoming older than this is history, not a ringing phone.
const STALE_MS = 5_000;

/**
 * The call of this tab, or null:
 * {id, phase, outgoing, peer, media, device, offer, session, remoteCandidates, early, box}
 * phase: "placing" (request in flight) → "outgoing" (ringing them) → "active", or
 * "incoming" (ringing here) → "answering" → "active"; then "ended" until closed.
 */
let current = null;
// A call that rang while this tab was placing one (crossing calls): shown once ours
// settles, unless it ends first.
let deferred = null;
const endedIds = new Set();

const screen = new CallScreen({
  answer: (media) => answer(media),
  decline: () => decline(),
  hangup: () => hangup(),
  mute: () => toggleMute(),
  camera: () => toggleCamera(),
  close: () => closeEnded(),
});

// ---- placing a call -------------------------------------------------------------------

async function place(box, media) {
  const username = box.dataset.callUsername;
  showRefusal(box, "");
  if (current && current.phase !== "ended") {
    showRefusal(box, current.phase === "incoming" ? "Someone is calling you: answer or decline first." : "You are already in a call. Hang up first.");
    return;
  }
  closeEnded();
  const call = { phase: "placing", outgoing: true, peer: { username, display_name: box.dataset.callName || "" }, media, box, early: [], remoteCandidates: [] };
  current = call;
  let placed;
  try {
    const config = await iceConfiguration();
    call.session = newSession(call, { polite: false, config });
    const body = { callee: username, media, sdp: await call.session.createOffer(media) };
    if (box.dataset.callConversation) body.conversation_id = box.dataset.callConversation;
    placed = await api.post("/api/v1/calls", body);
  } catch (error) {
    // Refused (a consent rule, blocked, rate limited) or unreachable: say why by the button.
    call.session?.close();
    if (current === call) current = null;
    const text = refusalSentence(error, username);
    if (!showRefusal(box, text, refusalRule(error))) screen.note(text);
    takeDeferred();
    return;
  }
  call.id = placed.id;
  call.device = placed.device;
  call.peer = placed.callee;
  call.phase = "outgoing";
  screen.showPanel({ peer: call.peer, media, status: `Calling ${call.peer.display_name || `@${call.peer.username}`}…` });
  screen.setControls({ muted: false, cameraOn: false, enabled: false });
  if (placed.state !== "ringing") {
    // Busy, or the other person's call to us came first (glare): over at once.
    finish(call, { state: placed.state, reason: placed.end_reason, duration_seconds: 0, replaced_by: placed.replaced_by });
    return;
  }
  screen.setStatus("Ringing…");
  call.session.startSendingCandidates();
  for (const [type, data] of call.early.splice(0)) onCallEvent(type, data);
  // The camera and microphone open while it rings: a refused call never opened them.
  try {
    const { stream, cameraMissing } = await openMedia(media === "video");
    if (call.phase === "ended") {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    await call.session.attachMedia(stream);
    screen.setLocal(call.session.localStream);
    screen.setControls({ muted: false, cameraOn: call.session.cameraOn });
    if (cameraMissing) screen.setError("Your camera is unavailable: the call goes on with sound only.");
  } catch (error) {
    screen.setError(refusalSentence(error, call.peer.username));
    hangup();
  }
}

function newSession(call, { polite, config }) {
  return new CallSession({
    polite,
    config,
    send: {
      candidates: (candidates) => api.post(`/api/v1/calls/${call.id}/candidates`, { candidates }),
      negotiate: (body) => {
        if (body.media) setMedia(call, body.media);
        return api.post(`/api/v1/calls/${call.id}/negotiate`, body);
      },
      failed: () => {
        if (current === call) hangup({ failed: true });
      },
    },
    onRemoteTrack: (stream) => {
      if (current === call && call.phase !== "ended") screen.setRemote(stream);
    },
    onConnection: (state) => {
      if (current === call && call.phase === "active") screen.setConnection(state);
    },
  });
}

function setMedia(call, media) {
  if (call.media === media) return;
  call.media = media;
  if (current === call) screen.setMedia(media);
}

// ---- the callee's side ----------------------------------------------------------------

function incoming(data) {
  if (data.direction !== "incoming" || data.state !== "ringing" || endedIds.has(data.id)) return;
  if (Date.parse(data.ring_expires_at) < Date.now() - STALE_MS) return; // a replay
  if (current?.id === data.id || deferred?.id === data.id) return;
  if (current && current.phase !== "ended") {
    deferred = { ...data, remote_candidates: [...(data.remote_candidates || [])] };
    return;
  }
  showIncoming(data);
}

function showIncoming(data) {
  closeEnded();
  current = {
    id: data.id,
    phase: "incoming",
    outgoing: false,
    peer: data.caller,
    media: data.media,
    offer: data.offer_sdp,
    remoteCandidates: [...(data.remote_candidates || [])],
    early: [],
  };
  rememberRinging(data);
  screen.showIncoming(data);
}

async function answer(media) {
  const call = current;
  if (!call || call.phase !== "incoming") return;
  call.phase = "answering";
  screen.incomingBusy(true);
  screen.ringer.stop();
  let stream = null;
  try {
    const opened = await openMedia(media === "video");
    stream = opened.stream;
    if (call.phase !== "answering") throw new Error("the call went away");
    const config = await iceConfiguration();
    if (call.phase !== "answering") throw new Error("the call went away");
    call.session = newSession(call, { polite: true, config });
    // A copy: should answering fail, a second try needs them all again.
    const sdp = await call.session.answer(call.offer, stream, [...call.remoteCandidates]);
    if (call.phase !== "answering") throw new Error("the call went away");
    await api.post(`/api/v1/calls/${call.id}/answer`, { sdp });
    if (call.phase !== "answering") return;
    call.phase = "active";
    forgetRinging();
    screen.hideIncoming(false);
    screen.showPanel({ peer: call.peer, media: call.media, status: "In call" });
    screen.setPhase("active");
    screen.setConnection(call.session.pc.connectionState);
    screen.startTimer();
    screen.setLocal(call.session.localStream);
    screen.setRemote(call.session.remoteStream);
    screen.setControls({ muted: false, cameraOn: call.session.cameraOn });
    if (opened.cameraMissing) screen.setError("Your camera is unavailable: you are in the call with sound only.");
    call.session.markEstablished();
  } catch (error) {
    if (stream && !call.session) for (const track of stream.getTracks()) track.stop();
    call.session?.close();
    call.session = null;
    if (call.phase !== "answering") return; // ended (or answered elsewhere) meanwhile
    if (error instanceof ApiError && error.status === 409) {
      // Answered on another device, or it stopped ringing: this device is done with it.
      forgetRinging();
      call.phase = "ended";
      screen.hideIncoming();
      screen.note(error.detail);
      current = null;
      takeDeferred();
      return;
    }
    call.phase = "incoming";
    screen.incomingBusy(false, refusalSentence(error, call.peer.username));
  }
}

async function decline() {
  const call = current;
  if (!call || call.phase !== "incoming") return;
  screen.incomingBusy(true);
  try {
    await api.post(`/api/v1/calls/${call.id}/reject`);
  } catch (error) {
    // 409: it already stopped ringing; its call.ended says how.
    if (!(error instanceof ApiError && error.status === 409)) {
      screen.incomingBusy(false, refusalSentence(error, call.peer.username));
      return;
    }
  }
  finish(call, { state: "rejected", reason: "rejected", duration_seconds: 0 });
}

// ---- during the call --------------------------------------------------------------

function answered(call, data) {
  call.phase = "active";
  screen.setPhase("active");
  screen.setStatus("In call");
  screen.setConnection(call.session.pc.connectionState);
  screen.startTimer();
  call.session.acceptAnswer(data.sdp).then(() => call.session?.markEstablished());
}

/** Hang up (or, while it rings, cancel) from this side. */
async function hangup({ failed = false } = {}) {
  const call = current;
  if (!call || !call.id || ["incoming", "ended"].includes(call.phase)) return;
  screen.hangupButton.disabled = true;
  try {
    const result = await api.post(`/api/v1/calls/${call.id}/hangup`, failed ? { reason: "failed" } : {});
    finish(call, { state: result.state, reason: result.end_reason, duration_seconds: result.duration_seconds });
  } catch (error) {
    // Unreachable: end it here; the server ends it too when the other side hangs up.
    screen.setError(refusalSentence(error, call.peer.username));
    finish(call, { state: failed ? "failed" : "ended", reason: "hangup", duration_seconds: 0 });
  }
}

function toggleMute() {
  const session = current?.session;
  if (!session || current.phase === "ended") return;
  session.setMuted(!session.muted);
  screen.setControls({ muted: session.muted, cameraOn: session.cameraOn });
  screen.announce(session.muted ? "Microphone muted." : "Microphone on.");
}

async function toggleCamera() {
  const call = current;
  const session = call?.session;
  if (!session || call.phase === "ended") return;
  screen.setError("");
  screen.setControls({ muted: session.muted, cameraOn: session.cameraOn, enabled: false });
  try {
    await session.setCamera(!session.cameraOn);
  } catch (error) {
    screen.setError(refusalSentence(error, call.peer.username));
  }
  if (current !== call || call.phase === "ended") return;
  screen.setLocal(session.localStream);
  screen.setControls({ muted: session.muted, cameraOn: session.cameraOn });
  screen.announce(session.cameraOn ? "Camera on." : "Camera off.");
}

// ---- the end ------------------------------------------------------------------------

function finish(call, ended) {
  if (call.phase === "ended") return;
  const ringingHere = call.phase === "incoming" || call.phase === "answering";
  call.phase = "ended";
  if (call.id) endedIds.add(call.id);
  call.session?.close();
  const text = endedText(ended, { outgoing: call.outgoing, peer: call.peer?.username });
  if (ringingHere) {
    forgetRinging();
    screen.hideIncoming();
    if (current === call) current = null;
    if (ended.state === "rejected") screen.announce(text);
    else screen.note(text, callBack(call));
    takeDeferred();
    return;
  }
  if (call.outgoing && ended.reason === "glare") {
    // They called us at the same moment and their call is the one that rings: answer it.
    screen.closePanel();
    if (current === call) current = null;
    takeDeferred(ended.replaced_by);
    return;
  }
  screen.showEnded(text, ended.state === "ended" ? ended.duration_seconds : null);
  takeDeferred();
}

function callBack(call) {
  if (!call.peer?.username) return null;
  const box = h("span", { "data-call-username": call.peer.username, "data-call-media": call.media, "data-call-label": "Call back" });
  fillCallButtons(box);
  return box;
}

/** Close the panel of a call that has ended. */
function closeEnded() {
  if (current?.phase !== "ended") return;
  current = null;
  screen.closePanel();
}

/** Show the call that rang while ours was being placed, if it still rings. */
async function takeDeferred(id = null) {
  let data = deferred;
  deferred = null;
  if (id && data?.id !== id) {
    try {
      data = await api.get(`/api/v1/calls/${id}`);
    } catch {
      return;
    }
  }
  if (!data || (current && current.phase !== "ended")) return;
  if (Date.parse(data.ring_expires_at) < Date.now()) return;
  incoming(data);
}

// ---- the stream -------------------------------------------------------------------

function onCallEvent(type, data) {
  if (type === "call.incoming") return incoming(data);
  if (type === "call.ended") endedIds.add(data.id);
  const call = current;
  if (call?.phase === "placing") {
    call.early.push([type, data]); // our call's id is not known yet
    return;
  }
  if (deferred?.id === data.id) {
    if (type === "call.ended") deferred = null;
    else if (type === "call.candidates") deferred.remote_candidates.push(...data.candidates);
    return;
  }
  if (!call || call.id !== data.id) return;
  switch (type) {
    case "call.answered":
      if (call.phase === "outgoing" && (!data.to_device || !call.device || data.to_device === call.device)) answered(call, data);
      break;
    case "call.answered_elsewhere":
      if (call.phase === "incoming") {
        call.phase = "ended";
        forgetRinging();
        screen.hideIncoming();
        screen.announce("Answered on another device.");
        current = null;
      }
      break;
    case "call.candidates":
      if (call.session) call.session.addRemoteCandidates(data.candidates || []);
      if (!call.outgoing) call.remoteCandidates.push(...(data.candidates || []));
      break;
    case "call.negotiate":
      if (call.session && call.phase !== "ended") {
        if (data.media) setMedia(call, data.media);
        call.session.remoteNegotiation(data);
      }
      break;
    case "call.ended":
      finish(call, data);
      break;
    default:
      break; // call.ringing: the answer to our request said so already
  }
}

document.addEventListener("plaza:stream", (event) => {
  const { type, data } = event.detail || {};
  if (typeof type !== "string" || !type.startsWith("call.") || !data) return;
  try {
    onCallEvent(type, data);
  } catch (error) {
    console.error("call event", type, error);
  }
});

// ---- surviving page changes ---------------------------------------------------------

function rememberRinging(data) {
  try {
    sessionStorage.setItem(RING_KEY, JSON.stringify({ id: data.id, until: data.ring_expires_at }));
  } catch {
    /* storage off: a reload just loses the ringing dialog */
  }
}

function forgetRinging() {
  try {
    sessionStorage.removeItem(RING_KEY);
  } catch {
    /* see above */
  }
}

async function restoreRinging() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(RING_KEY) || "null");
  } catch {
    return;
  }
  if (!saved?.id) return;
  if (!(Date.parse(saved.until) > Date.now())) return forgetRinging();
  try {
    const call = await api.get(`/api/v1/calls/${saved.id}`);
    if (call.state === "ringing" && call.direction === "incoming" && !current) incoming(call);
    else forgetRinging();
  } catch {
    forgetRinging();
  }
}

window.addEventListener("pagehide", () => {
  // Leaving the page ends this tab's call: nobody is left on this side to talk.
  if (current?.id && ["outgoing", "answering", "active"].includes(current.phase)) {
    postOnUnload(`/api/v1/calls/${current.id}/hangup`);
  }
});
window.addEventListener("beforeunload", (event) => {
  if (current && ["outgoing", "active"].includes(current.phase)) event.preventDefault();
});

// ---- call buttons -------------------------------------------------------------------

document.addEventListener("click", (event) => {
  const button = event.target.closest?.("[data-call-start]");
  const box = button?.closest("[data-call-username]");
  if (!box) return;
  event.preventDefault();
  busy(button, () => start(box, button));
});

/** A call button pressed: a refused one asks the rules again before placing. */
async function start(box, button) {
  if (button.getAttribute("aria-disabled") === "true") {
    const refusal = await checkBox(box, { fresh: true });
    if (refusal) {
      showRefusal(box, refusal.text, refusal.rule);
      return;
    }
  }
  await place(box, button.dataset.callStart);
}

/** In a direct conversation (/messages/{id}), call buttons for the other person. */
async function conversationButtons() {
  const root = document.getElementById("conversation");
  const id = root?.dataset.conversationId;
  if (!id || document.getElementById("dm-call")) return;
  let conversation;
  try {
    conversation = await api.get(`/api/v1/conversations/${id}`);
  } catch {
    return; // the page itself says why it cannot show the conversation
  }
  if (conversation.kind !== "direct" || conversation.state !== "active") return;
  const other = conversation.members.find((m) => m.id !== root.dataset.me);
  if (!other || document.getElementById("dm-call")) return;
  const box = h("span", { id: "dm-call", "data-call-username": other.username, "data-call-name": other.display_name || "", "data-call-conversation": conversation.id });
  (root.querySelector(".dm__tools") || root.querySelector(".dm__head") || root).append(box);
  fillCallButtons(box);
}

document.addEventListener("plaza:stream", (event) => {
  // A message request accepted on this page: now the conversation may have buttons.
  const { type, data } = event.detail || {};
  if (type === "conversation.updated" && data?.id === document.getElementById("conversation")?.dataset.conversationId) conversationButtons();
  // A message from someone whose buttons are refused may be the DM the rules wait for.
  if (type === "message.created" && !["system", "call"].includes(data?.kind)) recheckCallButtons(data?.sender?.username);
  // Premium (which placing a call may need) started, lapsed or changed.
  if (type === "premium.updated") recheckAllCallButtons();
});

window.plazaCall = Object.freeze({
  get pc() {
    return current?.session?.pc ?? null;
  },
  get phase() {
    return current?.phase ?? null;
  },
  get id() {
    return current?.id ?? null;
  },
});

if (!document.querySelector(`link[href="${STYLESHEET}"]`)) document.head.append(h("link", { rel: "stylesheet", href: STYLESHEET }));
fillCallButtons(document);
conversationButtons();
restoreRinging();
