// Fills in the health probes; the dashboard needs no build step and no framework.
async function probe(path, target) {
  const output = document.getElementById(target);
  try {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    const body = await response.json();
    output.textContent = response.ok ? body.status : `${response.status} ${body.detail || body.title}`;
  } catch (error) {
    output.textContent = "unreachable";
  }
}
probe("/api/v1/health", "live");
probe("/api/v1/health/ready", "ready");
