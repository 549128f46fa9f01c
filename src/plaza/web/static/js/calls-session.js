// One call's media: an RTCPeerConnection, the local camera and microphone, ICE
// candidates trickled in batches, and renegotiation (camera on and off, audio to
// video, ICE restart) by the "perfect negotiation" pattern: the caller is the
// impolite peer, the callee the polite one, so two offers that cross resolve alone.
//
// The session knows nothing about the page: the controller (calls.js) gives it
// `send.candidates(list)` and `send.negotiate(body)` and feeds it the other side's
// steps. Every step that touches the connection's descriptions runs on one queue, in
// the order the stream delivered them (an answer before the candidates after it).

import { api } from "./api.js";
import { friendly } from "./calls-common.js";

const BATCH_MS = 40; // candidates that come together go in one request
const MAX_BATCH = 50; // the API's limit per request
const CONNECT_TIMEOUT_MS = 30_000;
const RECONNECT_TIMEOUT_MS = 15_000;
const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };

/** STUN/TURN servers for this user now, and whether to relay only (the server decides). */
export async function iceConfiguration() {
  const ice = await api.get("/api/v1/calls/ice-servers");
  return {
    iceServers: (ice.ice_servers || []).map((server) => {
      const entry = { urls: server.urls };
      if (server.username) entry.username = server.username;
      if (server.credential) entry.credential = server.credential;
      return entry;
    }),
    iceTransportPolicy: ice.ice_transport_policy === "relay" ? "relay" : "all",
  };
}

/**
 * The microphone, and the camera if `video`; without a camera (or with the camera
 * refused) a video call goes on with sound alone, and `cameraMissing` says so.
 */
export async function openMedia(video) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw friendly("This browser cannot make calls here (calls need a secure connection and a recent browser).");
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: video ? VIDEO : false });
    return { stream, cameraMissing: false };
  } catch (error) {
    if (video && ["NotFoundError", "NotReadableError", "OverconstrainedError", "NotAllowedError"].includes(error.name)) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
        return { stream, cameraMissing: true };
      } catch {
        /* fall through to the microphone's own error */
      }
    }
    if (error.name === "NotAllowedError" || error.name === "SecurityError") {
      throw friendly("Plaza needs your microphone for calls. Allow it in your browser’s site settings and try again.");
    }
    if (error.name === "NotFoundError") throw friendly("No microphone was found. Connect one and try again.");
    throw friendly("Your microphone could not be opened. Close other apps that use it and try again.");
  }
}

export class CallSession {
  /**
   * @param {object} options
   * @param {boolean} options.polite - the callee's side (yields when offers cross)
   * @param {RTCConfiguration} options.config - from iceConfiguration()
   * @param {{candidates: Function, negotiate: Function, failed: Function}} options.send
   * @param {Function} options.onRemoteTrack - (MediaStream) when the other side's media changes
   * @param {Function} options.onConnection - (state) RTCPeerConnection.connectionState, "reconnecting"
   */
  constructor({ polite, config, send, onRemoteTrack = () => {}, onConnection = () => {} }) {
    this.polite = polite;
    this.send = send;
    this.onRemoteTrack = onRemoteTrack;
    this.onConnection = onConnection;
    this.pc = new RTCPeerConnection(config);
    this.localStream = new MediaStream();
    this.remoteStream = new MediaStream();
    this.ops = Promise.resolve();
    this.outbox = [];
    this.sending = Promise.resolve();
    this.batchTimer = null;
    this.canSendCandidates = false;
    this.pendingRemote = [];
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.established = false;
    this.negotiationWanted = false;
    this.mediaChange = null; // "video" when the next offer turns an audio call into video
    this.restarted = false;
    this.everConnected = false;
    this.closed = false;
    this.watchdog = null;

    this.pc.addEventListener("icecandidate", ({ candidate }) => {
      // The end of gathering (null) needs no message: the other side just stops waiting.
      if (candidate && candidate.candidate) this.queueCandidate(candidate.toJSON());
    });
    this.pc.addEventListener("track", ({ track }) => {
      if (!this.remoteStream.getTracks().includes(track)) this.remoteStream.addTrack(track);
      const changed = () => this.onRemoteTrack(this.remoteStream);
      track.addEventListener("mute", changed);
      track.addEventListener("unmute", changed);
      track.addEventListener("ended", () => {
        this.remoteStream.removeTrack(track);
        changed();
      });
      changed();
    });
    this.pc.addEventListener("connectionstatechange", () => this.connectionChanged());
    this.pc.addEventListener("negotiationneeded", () => this.negotiationNeeded());
  }

  // ---- set-up ---------------------------------------------------------------------

  /** The caller's offer, made before asking for the devices (so that a refused call
   * never opens the camera): sendrecv transceivers whose tracks come later. */
  async createOffer(media) {
    this.audio = this.pc.addTransceiver("audio", { direction: "sendrecv", streams: [this.localStream] });
    if (media === "video") this.video = this.pc.addTransceiver("video", { direction: "sendrecv", streams: [this.localStream] });
    // No await between adding the transceivers and this call: the offer is one step, so
    // no "negotiationneeded" slips in before it.
    await this.pc.setLocalDescription();
    return this.pc.localDescription.sdp;
  }

  /** Put the caller's devices on the transceivers of the offer (no renegotiation). */
  async attachMedia(stream) {
    for (const track of stream.getTracks()) {
      this.localStream.addTrack(track);
      const transceiver = track.kind === "audio" ? this.audio : this.video;
      if (transceiver) await transceiver.sender.replaceTrack(track);
      else this.pc.addTrack(track, this.localStream); // a camera the offer lacked: renegotiates
    }
    // A video call without a camera: say so (the other side shows "camera off").
    if (this.video && !stream.getVideoTracks().length) this.video.direction = "recvonly";
  }

  /** The callee's answer to `offerSdp`, with `stream`'s tracks; `candidates` came
   * with the ringing call. */
  async answer(offerSdp, stream, candidates = []) {
    return this.enqueue(async () => {
      await this.pc.setRemoteDescription({ type: "offer", sdp: offerSdp });
      for (const track of stream.getTracks()) {
        this.localStream.addTrack(track);
        // addTrack after the offer reuses the offered transceiver of that kind.
        this.pc.addTrack(track, this.localStream);
      }
      this.pendingRemote.push(...candidates);
      await this.flushRemoteCandidates();
      await this.pc.setLocalDescription();
      // Answering an audio call with the camera on: the camera needs an offer of its own.
      if (this.pc.getTransceivers().some((t) => t.mid === null && t.sender.track?.kind === "video")) this.mediaChange = "video";
      return this.pc.localDescription.sdp;
    });
  }

  /** The caller gets the callee's answer. */
  acceptAnswer(sdp) {
    return this.enqueue(async () => {
      if (this.pc.signalingState !== "have-local-offer") return;
      await this.pc.setRemoteDescription({ type: "answer", sdp });
      await this.flushRemoteCandidates();
    });
  }

  /** Both sides know the call (placed and answered): candidates and renegotiation may
   * flow, and the connection must come up in time. */
  markEstablished() {
    this.established = true;
    this.startSendingCandidates();
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      if (!this.everConnected && !this.closed) this.send.failed();
    }, CONNECT_TIMEOUT_MS);
    if (this.negotiationWanted) this.negotiationNeeded();
  }

  // ---- candidates -----------------------------------------------------------------

  queueCandidate(candidate) {
    this.outbox.push(candidate);
    if (this.canSendCandidates && !this.batchTimer) this.batchTimer = setTimeout(() => this.flushCandidates(), BATCH_MS);
  }

  /** The call exists on the server (the caller) or was answered (the callee). */
  startSendingCandidates() {
    this.canSendCandidates = true;
    this.flushCandidates();
  }

  flushCandidates() {
    clearTimeout(this.batchTimer);
    this.batchTimer = null;
    while (this.outbox.length && !this.closed) {
      const batch = this.outbox.splice(0, MAX_BATCH);
      // One request at a time, in order.
      this.sending = this.sending
        .then(() => (this.closed ? undefined : this.send.candidates(batch)))
        .catch((error) => {
          // 409: the call ended meanwhile; nothing left to connect.
          if (error.status !== 409) console.warn("candidates not sent", error);
        });
    }
  }

  addRemoteCandidates(candidates) {
    return this.enqueue(async () => {
      this.pendingRemote.push(...candidates);
      await this.flushRemoteCandidates();
    });
  }

  async flushRemoteCandidates() {
    if (!this.pc.remoteDescription) return;
    for (const candidate of this.pendingRemote.splice(0)) {
      try {
        await this.pc.addIceCandidate(candidate);
      } catch (error) {
        // Candidates of an offer we ignored (crossing offers) fail harmlessly.
        if (!this.ignoreOffer) console.warn("candidate not added", error);
      }
    }
  }

  // ---- renegotiation --------------------------------------------------------------

  async negotiationNeeded() {
    if (this.closed) return;
    if (!this.established) {
      this.negotiationWanted = true; // after the first answer
      return;
    }
    this.negotiationWanted = false;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      const body = { type: "offer", sdp: this.pc.localDescription.sdp };
      if (this.mediaChange) body.media = this.mediaChange;
      this.mediaChange = null;
      await this.send.negotiate(body);
    } catch (error) {
      console.warn("renegotiation failed", error);
    } finally {
      this.makingOffer = false;
    }
  }

  /** The other side's `call.negotiate` step. */
  remoteNegotiation({ type, sdp }) {
    return this.enqueue(async () => {
      const collision = type === "offer" && (this.makingOffer || this.pc.signalingState !== "stable");
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      if (type === "answer" && this.pc.signalingState !== "have-local-offer") return;
      await this.pc.setRemoteDescription({ type, sdp }); // a polite collision rolls back
      await this.flushRemoteCandidates();
      if (type === "offer") {
        await this.pc.setLocalDescription();
        await this.send.negotiate({ type: "answer", sdp: this.pc.localDescription.sdp });
      }
    });
  }

  // ---- controls -------------------------------------------------------------------

  get muted() {
    const track = this.localStream.getAudioTracks()[0];
    return track ? !track.enabled : true;
  }

  /** Mute keeps the track and sends silence: instant, nothing to renegotiate. */
  setMuted(muted) {
    for (const track of this.localStream.getAudioTracks()) track.enabled = !muted;
  }

  get cameraOn() {
    return this.localStream.getVideoTracks().some((track) => track.readyState === "live");
  }

  videoTransceiver() {
    return this.pc.getTransceivers().find((t) => !t.stopped && t.receiver.track?.kind === "video") || null;
  }

  /**
   * Camera off stops the camera (its light goes out) and stops sending video; on opens
   * it again. Either changes the direction of the video transceiver, and an audio call
   * gains one: both renegotiate, so the other side sees the change at once.
   */
  async setCamera(on) {
    const transceiver = this.videoTransceiver();
    if (!on) {
      for (const track of this.localStream.getVideoTracks()) {
        track.stop();
        this.localStream.removeTrack(track);
      }
      if (transceiver) {
        await transceiver.sender.replaceTrack(null);
        if (transceiver.direction === "sendrecv") transceiver.direction = "recvonly";
        else if (transceiver.direction === "sendonly") transceiver.direction = "inactive";
      }
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: VIDEO });
    } catch (error) {
      throw friendly(error.name === "NotAllowedError" ? "Plaza may not use your camera. Allow it in your browser’s site settings." : "Your camera could not be opened.");
    }
    const [track] = stream.getVideoTracks();
    this.localStream.addTrack(track);
    if (transceiver) {
      await transceiver.sender.replaceTrack(track);
      if (transceiver.direction === "recvonly") transceiver.direction = "sendrecv";
      else if (transceiver.direction === "inactive") transceiver.direction = "sendonly";
    } else {
      this.mediaChange = "video"; // the call becomes a video call
      this.pc.addTrack(track, this.localStream);
    }
  }

  // ---- connection -----------------------------------------------------------------

  connectionChanged() {
    const state = this.pc.connectionState;
    if (this.closed) return;
    if (state === "connected") {
      this.everConnected = true;
      this.restarted = false;
      clearTimeout(this.watchdog);
    }
    if (state === "disconnected" || state === "failed") {
      // Try one ICE restart (a network change), then give up after a while.
      if (state === "failed" && !this.restarted && this.established) {
        this.restarted = true;
        this.pc.restartIce();
      }
      clearTimeout(this.watchdog);
      this.watchdog = setTimeout(() => {
        if (!this.closed && this.pc.connectionState !== "connected") this.send.failed();
      }, RECONNECT_TIMEOUT_MS);
      this.onConnection(this.everConnected ? "reconnecting" : state);
      return;
    }
    this.onConnection(state);
  }

  enqueue(step) {
    const run = this.ops.then(() => (this.closed ? undefined : step()));
    this.ops = run.catch((error) => console.warn("call step failed", error));
    return run;
  }

  /** Hang up locally: the devices are released and nothing more is sent. */
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.batchTimer);
    clearTimeout(this.watchdog);
    for (const track of this.localStream.getTracks()) track.stop();
    try {
      this.pc.close();
    } catch {
      /* already closed */
    }
  }
}
