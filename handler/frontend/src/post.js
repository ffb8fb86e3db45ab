// The entry of /posts/{slug}: a button that works only once this module has read the
// page's hydration data (the data of the same cached generation as the HTML around it).
import { markHydrated, readHydration } from "./shared.js";
import "./post.css";

const data = readHydration();
const button = document.getElementById("about-post");
const output = document.getElementById("about-post-output");

if (button && output && data) {
  button.textContent = data.title ? `About “${data.title}”` : "About this page";
  button.disabled = false;
  button.addEventListener("click", () => {
    output.textContent = data.title
      ? `“${data.title}” (/posts/${data.slug}), generated at ${data.generatedAt}.`
      : `There is no post called “${data.slug}”.`;
  });
}
markHydrated("post");
