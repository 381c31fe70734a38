// The example function: asks the OPA extension beside it for a decision, exactly as it would ask
// an OPA server. OPA_URL is set by the construct (http://127.0.0.1:8181).
const OPA_URL = process.env.OPA_URL;

exports.handler = async (event) => {
  const response = await fetch(`${OPA_URL}/v1/data/app/authz/allow`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: { user: event.user, action: event.action, resource: event.resource } }),
  });
  if (!response.ok) throw new Error(`OPA answered ${response.status}: ${await response.text()}`);
  const { result } = await response.json();
  const allowed = result === true;
  return { statusCode: allowed ? 200 : 403, allowed };
};
