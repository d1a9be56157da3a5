/**
 * The playground's one page: call the agent from the browser's microphone, hear it, read the live
 * transcript and each turn's latency. Plain script over livekit-client's browser build, served by
 * server.ts; nothing is fetched from anywhere else.
 *
 * Turn latency is measured where the caller feels it: from the last moment the microphone carried
 * voice to the first moment the agent's audio does (both from level meters in the page), so it
 * includes the network, the STT's endpointing and everything after it. `window.playground` holds
 * the same numbers for automated runs (test/e2e/playground.test.ts).
 */
export const PLAYGROUND_PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard playground</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; padding: 0 1rem; color: #1b1b1b; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  button { font: inherit; padding: .5rem 1.2rem; margin-right: .5rem; border-radius: .4rem; border: 1px solid #888; background: #fff; cursor: pointer; }
  button:disabled { opacity: .4; cursor: default; }
  #status { margin: 1rem 0; font-weight: 600; }
  .meter { display: flex; align-items: center; gap: .6rem; margin: .3rem 0; }
  .meter span { width: 4.5rem; }
  .bar { flex: 1; height: .7rem; background: #eee; border-radius: .3rem; overflow: hidden; }
  .bar div { height: 100%; width: 0; background: #2a7; transition: width 60ms linear; }
  #transcript { border: 1px solid #ddd; border-radius: .4rem; padding: .6rem; min-height: 8rem; margin: 1rem 0; }
  #transcript p { margin: .25rem 0; }
  #transcript .you b { color: #236; }
  #transcript .agent b { color: #273; }
  #transcript .interim { color: #888; }
  table { border-collapse: collapse; }
  td, th { padding: .2rem .8rem; border-bottom: 1px solid #eee; text-align: left; }
  #error { color: #b00; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>Switchboard playground</h1>
<div>
  <button id="call">Call the agent</button>
  <button id="hangup" disabled>Hang up</button>
</div>
<div id="status">Not connected</div>
<div class="meter"><span>Agent</span><div class="bar"><div id="agentLevel"></div></div></div>
<div class="meter"><span>You</span><div class="bar"><div id="micLevel"></div></div></div>
<div id="transcript"></div>
<table><thead><tr><th>turn</th><th>silence before the agent answered</th></tr></thead><tbody id="turns"></tbody></table>
<p id="error"></p>
<script src="/livekit-client.js"></script>
<script>
(function () {
  var LK = window.LivekitClient;
  // Voice is anything over -45 dBFS; the agent's turn ends after 400 ms under it.
  var VOICE_DB = -45, AGENT_QUIET_MS = 400;
  var state = { status: 'idle', room: null, agent: null, firstAudioMs: null, agentPeakDb: -100, transcript: [], turns: [], error: null };
  window.playground = state;
  var room = null, ctx = null, timer = null, connectedAt = 0;
  var micAnalyser = null, agentAnalyser = null;
  var micVoiceAt = 0, agentVoiceAt = 0, agentSpeaking = false, awaitingReply = false;
  var $ = function (id) { return document.getElementById(id); };

  function setStatus(s, text) { state.status = s; $('status').textContent = text; }

  function analyser(track) {
    var a = ctx.createAnalyser();
    a.fftSize = 1024;
    ctx.createMediaStreamSource(new MediaStream([track])).connect(a);
    return a;
  }
  function levelDb(a) {
    if (!a) return -100;
    var buf = new Float32Array(a.fftSize);
    a.getFloatTimeDomainData(buf);
    var sum = 0;
    for (var i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
    var rms = Math.sqrt(sum / buf.length);
    return rms > 0 ? 20 * Math.log10(rms) : -100;
  }
  function width(db) { return Math.max(0, Math.min(100, (db + 70) * 100 / 70)) + '%'; }

  function tick() {
    var now = performance.now();
    var mic = levelDb(micAnalyser), agent = levelDb(agentAnalyser);
    $('micLevel').style.width = width(mic);
    $('agentLevel').style.width = width(agent);
    if (agent > state.agentPeakDb) state.agentPeakDb = Math.round(agent);
    if (mic > VOICE_DB) { micVoiceAt = now; if (!agentSpeaking) awaitingReply = true; }
    if (agent > VOICE_DB) {
      if (!agentSpeaking) {
        agentSpeaking = true;
        if (state.firstAudioMs === null) state.firstAudioMs = Math.round(now - connectedAt);
        else if (awaitingReply) addTurn(Math.round(now - micVoiceAt));
        awaitingReply = false;
      }
      agentVoiceAt = now;
    } else if (agentSpeaking && now - agentVoiceAt > AGENT_QUIET_MS) {
      agentSpeaking = false;
    }
  }

  function addTurn(ms) {
    state.turns.push({ latencyMs: ms });
    var tr = document.createElement('tr');
    tr.innerHTML = '<td>' + state.turns.length + '</td><td>' + ms + ' ms</td>';
    $('turns').appendChild(tr);
  }

  function showLine(segment, who, text, final) {
    var line = null;
    for (var i = 0; i < state.transcript.length; i++) if (state.transcript[i].segment === segment) line = state.transcript[i];
    if (!line) {
      line = { segment: segment, who: who, text: '', final: false, el: null };
      state.transcript.push(line);
    }
    if (text && (text.length >= line.text.length || final)) line.text = text;
    line.final = line.final || final;
    if (!line.el) { line.el = document.createElement('p'); $('transcript').appendChild(line.el); }
    line.el.className = who + (line.final ? '' : ' interim');
    line.el.innerHTML = '';
    var b = document.createElement('b');
    b.textContent = (who === 'you' ? 'You' : 'Agent') + ': ';
    line.el.appendChild(b);
    line.el.appendChild(document.createTextNode(line.text));
  }

  async function call() {
    $('call').disabled = true;
    $('error').textContent = '';
    state.error = null;
    setStatus('connecting', 'Connecting…');
    try {
      ctx = ctx || new AudioContext();
      await ctx.resume();
      var res = await fetch('/token', { method: 'POST' });
      var t = await res.json();
      if (!res.ok) throw new Error(t.error || ('token: HTTP ' + res.status));
      state.room = t.room;
      room = new LK.Room({ adaptiveStream: false, dynacast: false });
      room.on(LK.RoomEvent.ParticipantConnected, function (p) {
        if (p.isAgent) { state.agent = p.identity; setStatus('connected', 'Connected to ' + t.room + ' — the agent joined'); }
      });
      room.on(LK.RoomEvent.TrackSubscribed, function (track, pub, p) {
        if (track.kind !== LK.Track.Kind.Audio) return;
        var el = track.attach();
        document.body.appendChild(el);
        if (p.isAgent) agentAnalyser = analyser(track.mediaStreamTrack);
      });
      room.on(LK.RoomEvent.Disconnected, function () {
        setStatus('ended', 'Call ended');
        $('call').disabled = false;
        $('hangup').disabled = true;
        if (timer) clearInterval(timer);
        timer = null;
      });
      room.registerTextStreamHandler('lk.transcription', async function (reader, participant) {
        var attrs = reader.info.attributes || {};
        var who = participant.identity === room.localParticipant.identity ? 'you' : 'agent';
        var segment = attrs['lk.segment_id'] || reader.info.id;
        var text = '';
        for await (var chunk of reader) { text += chunk; showLine(segment, who, text, false); }
        // The caller's interim transcripts come as streams of their own, marked not final; an
        // agent's segment is one stream, whole once it closes.
        showLine(segment, who, text, who === 'agent' || attrs['lk.transcription_final'] === 'true');
      });
      await room.connect(t.url, t.token);
      connectedAt = performance.now();
      setStatus('connected', 'Connected to ' + t.room + ' — waiting for the agent');
      for (var p of room.remoteParticipants.values()) if (p.isAgent) state.agent = p.identity;
      await room.localParticipant.setMicrophoneEnabled(true);
      var pub = room.localParticipant.getTrackPublication(LK.Track.Source.Microphone);
      if (pub && pub.track) micAnalyser = analyser(pub.track.mediaStreamTrack);
      timer = setInterval(tick, 20);
      $('hangup').disabled = false;
    } catch (err) {
      state.error = String(err && err.message || err);
      $('error').textContent = state.error;
      setStatus('failed', 'Could not connect');
      $('call').disabled = false;
    }
  }

  $('call').addEventListener('click', call);
  $('hangup').addEventListener('click', function () { if (room) room.disconnect(); });
  if (new URLSearchParams(location.search).has('autocall')) call();
})();
</script>
</body>
</html>
`;
