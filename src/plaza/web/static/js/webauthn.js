// Passkey ceremonies with the browser's JSON helpers: the server sends options in
// their JSON form, and gets the credential back as credential.toJSON().

export class PasskeyError extends Error {
  constructor(message) {
    super(message);
    this.name = "PasskeyError";
    this.friendly = true; // safe to show as it is
  }
}

export function passkeysSupported() {
  return (
    typeof window.PublicKeyCredential === "function" &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function"
  );
}

function explain(error) {
  switch (error?.name) {
    case "NotAllowedError":
      return "The passkey request was cancelled or timed out.";
    case "InvalidStateError":
      return "This device already holds a passkey for your account.";
    case "SecurityError":
      return "Passkeys need this page to be opened at the server's own address.";
    case "AbortError":
      return "The passkey request was cancelled.";
    default:
      return `The passkey did not work: ${error?.message || error}`;
  }
}

function requireSupport() {
  if (!passkeysSupported()) {
    throw new PasskeyError("This browser cannot use passkeys. Try a recent version of your browser.");
  }
}

/** Make a new passkey from creation options (JSON); resolves to the credential JSON. */
export async function createPasskey(publicKeyJSON) {
  requireSupport();
  try {
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(publicKeyJSON);
    const credential = await navigator.credentials.create({ publicKey });
    return credential.toJSON();
  } catch (error) {
    throw new PasskeyError(explain(error));
  }
}

/** Use a passkey with request options (JSON); resolves to the assertion JSON. */
export async function getPasskey(publicKeyJSON) {
  requireSupport();
  try {
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(publicKeyJSON);
    const credential = await navigator.credentials.get({ publicKey });
    return credential.toJSON();
  } catch (error) {
    throw new PasskeyError(explain(error));
  }
}
