// Shared by every entry (Vite puts it in a chunk of its own, with its own stylesheet).
import "./shared.css";

/** The page's hydration data: the JSON the server wrote with its generation of the page. */
export function readHydration(id = "__lambda_isr_data__") {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

/** Marks the document as hydrated by `entry` (the browser test reads it). */
export function markHydrated(entry) {
  document.documentElement.dataset.hydrated = entry;
}
