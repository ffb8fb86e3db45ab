// The entry of every page but the posts: it only needs the shared styles and the marker.
import { markHydrated } from "./shared.js";
import "./main.css";

markHydrated("main");
