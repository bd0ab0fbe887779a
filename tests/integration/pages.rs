//! What the HTML pages show (issue 9): the grouped overview and its URL state, the legend, the
//! levels as a list, the critical path drawn alone, the diagnostics grouped, and the bugs seen —
//! each checked in the page's HTML, without a browser (`browser` checks what a reader sees).

use std::collections::BTreeSet;

use axum::http::StatusCode;
use fluxgraph::server::Options;
use regex::Regex;

use crate::server::{example, get, state_for};
use crate::util::repo;

/// The `data-id` of every box drawn in `html`, in order.
fn boxes(html: &str) -> Vec<String> {
    let re = Regex::new(r#"<g class="node [^"]*" data-id="([^"]*)""#).unwrap();
    re.captures_iter(html).map(|c| c[1].to_string()).collect()
}

/// The boxes drawn with `class`.
fn boxes_with(html: &str, class: &str) -> Vec<String> {
    let re = Regex::new(r#"<g class="node ([^"]*)" data-id="([^"]*)""#).unwrap();
    re.captures_iter(html).filter(|c| c[1].split(' ').any(|k| k == class)).map(|c| c[2].to_string()).collect()
}

/// (from, to) of every edge drawn with `class`.
fn edges_with(html: &str, class: &str) -> Vec<(String, String)> {
    let re = Regex::new(r#"<path class="edge ([^"]*)" data-from="([^"]*)" data-to="([^"]*)""#).unwrap();
    re.captures_iter(html).filter(|c| c[1].split(' ').any(|k| k == class)).map(|c| (c[2].to_string(), c[3].to_string())).collect()
}

/// The ids of the critical path by hops, from the API.
async fn critical_path(state: &fluxgraph::server::AppState, query: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(&get(state, &format!("/api/graph{query}")).await.body).unwrap();
    doc["clusters"][0]["critical_path"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn the_object_view_draws_helm_releases_only_when_asked() {
    let state = example();
    let release = "HelmRelease/home/linkding";
    let without = get(&state, "/k/Kustomization/flux-system/linkding").await.body;
    assert!(!boxes(&without).contains(&release.to_string()), "drawn with its toggle off: {:?}", boxes(&without));
    let with = get(&state, "/k/Kustomization/flux-system/linkding?show=hr").await.body;
    assert!(boxes(&with).contains(&release.to_string()), "?show=hr changes nothing: {:?}", boxes(&with));
    // The object itself is drawn whatever the toggles.
    assert!(boxes(&get(&state, "/k/HelmRelease/home/linkding").await.body).contains(&release.to_string()));
}

#[tokio::test]
async fn behind_a_cycle_is_blocked_not_a_cycle_and_there_is_no_cold_start() {
    let state = state_for(&repo("dependency-cycle"), Options::default());
    let page = get(&state, "/").await.body;
    let cycle = boxes_with(&page, "cycle");
    let blocked = boxes_with(&page, "blocked");
    assert_eq!(cycle, ["Kustomization/flux-system/database", "Kustomization/flux-system/storage"], "on the cycle");
    assert_eq!(blocked, ["Kustomization/flux-system/linkding"], "waits behind it, not on it");
    assert!(page.contains(">blocked</text>") && page.contains(">cycle</text>"), "the badges say which");
    // Counts in the singular where they are one; no cold start of "0ms".
    for text in ["<b>1</b> level<", "<b>1</b> cycle<", "<b>1</b> error<", "<b>never</b> ready: 3 behind a cycle"] {
        assert!(page.contains(text), "the header lacks {text:?}");
    }
    assert!(!page.contains("0ms"), "a cold start of 0ms on a cluster that never comes up");
    let critical = get(&state, "/critical-path").await.body;
    assert!(critical.contains("never get Ready"), "the critical path page does not say the cluster never comes up");
    // The cut, with its file and line.
    let cycles = get(&state, "/cycles").await.body;
    assert!(cycles.contains("clusters/test/cluster.yaml:32"), "the cut's line is not given");
}

#[tokio::test]
async fn the_overview_lights_as_many_boxes_as_the_header_counts() {
    let state = example();
    let path = critical_path(&state, "").await;
    assert!(path.last().unwrap().starts_with("HelmRelease/"), "the case: a path ending in a HelmRelease, hidden by default");
    let page = get(&state, "/").await.body;
    assert!(page.contains(&format!("<b>{}</b> on the critical path", path.len())));
    let lit: BTreeSet<String> = boxes_with(&page, "critical").into_iter().collect();
    assert_eq!(lit, path.iter().cloned().collect(), "the boxes lit are not the path");
}

#[tokio::test]
async fn only_steps_of_the_critical_path_are_drawn_as_critical() {
    let state = example();
    let path = critical_path(&state, "").await;
    let steps: BTreeSet<(String, String)> = path.windows(2).flat_map(|w| [(w[0].clone(), w[1].clone()), (w[1].clone(), w[0].clone())]).collect();
    for uri in ["/?show=hr", "/?edges=dependsOn,applies,source&show=hr,src", "/critical-path"] {
        let page = get(&state, uri).await.body;
        let critical = edges_with(&page, "critical");
        assert!(!critical.is_empty(), "{uri}: no critical edge");
        for edge in &critical {
            assert!(steps.contains(edge), "{uri}: {edge:?} lit as critical joins two members that are not consecutive");
        }
    }
}

#[tokio::test]
async fn one_word_for_levels() {
    let state = example();
    for uri in ["/", "/levels", "/critical-path", "/k/Kustomization/flux-system/linkding", "/component/kubernetes/rpi-cluster/apps/home/linkding"] {
        let page = get(&state, uri).await.body;
        assert!(!page.to_lowercase().contains("wave"), "{uri} says \"wave\"");
        assert!(page.contains("level"), "{uri}");
    }
}

#[tokio::test]
async fn every_graph_page_has_a_legend() {
    let state = state_for(&repo("dependency-cycle"), Options::default());
    for uri in ["/", "/critical-path", "/cycles", "/k/Kustomization/flux-system/linkding"] {
        let page = get(&state, uri).await.body;
        assert!(page.contains(r#"<details class="legend" open>"#), "{uri} has no legend");
        for entry in ["dependsOn", "applies", "source", "critical path", "HelmRelease", "what it waits on", "what waits on it", "suspended", "external", "cycle", "blocked"] {
            assert!(page.contains(entry), "{uri}: the legend lacks {entry}");
        }
    }
}

#[tokio::test]
async fn the_critical_path_page_draws_only_the_path() {
    let state = example();
    let path = critical_path(&state, "").await;
    let page = get(&state, "/critical-path").await.body;
    // The first drawing is the path by hops: its members, nothing else.
    let by_hops = &page[page.find("By hops").unwrap()..page.find("By time").unwrap()];
    assert_eq!(boxes(by_hops).into_iter().collect::<BTreeSet<_>>(), path.iter().cloned().collect(), "the drawing by hops");
    assert!(page.contains("By time: the slowest chain") && page.contains("because"), "both paths, told apart, with why each hop takes what it takes");
    // One hop of neighbours on demand, dimmed.
    let near = get(&state, "/critical-path?near=1").await.body;
    let near_hops = &near[near.find("By hops").unwrap()..near.find("By time").unwrap()];
    assert!(boxes(near_hops).len() > path.len(), "?near=1 adds no neighbour");
    assert!(!boxes_with(near_hops, "dim").is_empty());
}

#[tokio::test]
async fn the_levels_as_a_list() {
    let state = example();
    let page = get(&state, "/levels").await.body;
    let re = Regex::new(r"<h3>level (\d+) <small>(\d+) objects?</small></h3>").unwrap();
    let levels: Vec<usize> = re.captures_iter(&page).map(|c| c[1].parse().unwrap()).collect();
    let doc: serde_json::Value = serde_json::from_str(&get(&state, "/api/graph").await.body).unwrap();
    assert_eq!(levels.len(), doc["clusters"][0]["levels"].as_array().unwrap().len(), "one row per level");
    assert!(page.contains(r#"href="/k/Kustomization/flux-system/linkding""#), "each item is a link");
    // The overview carries it too, for phones.
    assert!(get(&state, "/").await.body.contains(r#"<ol class="level-list""#));
}

#[tokio::test]
async fn a_large_cluster_opens_grouped_and_the_url_names_the_open_groups() {
    let state = example();
    // The example is under the threshold: drawn whole unless asked.
    assert!(boxes_with(&get(&state, "/").await.body, "group").is_empty());
    let grouped = get(&state, "/?group=1").await.body;
    let groups = boxes_with(&grouped, "group");
    assert!(groups.contains(&"group:apps/home".to_string()), "{groups:?}");
    assert!(grouped.contains(">apps/home</text>") && grouped.contains("objects · level"), "a group says its count and level span");
    assert!(Regex::new(r#"<text class="edge-label[^>]*>×\d+</text>"#).unwrap().is_match(&grouped), "bundled edges carry their count");
    // The critical path is drawn whole through the closed groups.
    let path = critical_path(&state, "").await;
    let drawn: BTreeSet<String> = boxes(&grouped).into_iter().collect();
    assert!(path.iter().all(|id| drawn.contains(id)), "the critical path is not drawn whole");
    // The group's link opens it; the URL says so and shows its members.
    let href = Regex::new(r#"<a href="([^"]*)" class="node-link"><g class="node group[^"]*" data-id="group:apps/home""#).unwrap().captures(&grouped).unwrap()[1].replace("&amp;", "&");
    assert!(href.contains("open=apps%2Fhome"), "{href}");
    let opened = get(&state, &href).await.body;
    assert!(!boxes(&opened).contains(&"group:apps/home".to_string()));
    assert!(boxes(&opened).contains(&"Kustomization/flux-system/linkding".to_string()));
    assert!(opened.contains(r#"class="toggle on open-group""#), "the open group can be closed");
}

#[tokio::test]
async fn diagnostics_group_by_object_or_file_and_link_to_the_line() {
    let state = example();
    let by_file = get(&state, "/diagnostics?by=file").await.body;
    assert!(by_file.contains(r#"<h2 class="diagnostic-group">"#), "no group heading");
    let by_object = get(&state, "/diagnostics?by=object").await.body;
    assert!(by_object.contains(r#"<h2 class="diagnostic-group"><a href="/k/"#), "objects head their groups, as links");
    // Without --repo-url, a location links to the line on the object's page.
    assert!(Regex::new(r#"<td class="location"><a href="/k/[^"]*#L\d+">"#).unwrap().is_match(&by_file), "no file:line link");
    assert!(by_file.contains(r#"<td class="code">"#));
}

#[tokio::test]
#[cfg_attr(not(has_shared), ignore = "needs ../shared (the corpus)")]
async fn several_clusters_open_on_the_largest() {
    let state = state_for(&crate::util::shared().join("corpus/thaynes43__haynes-ops"), Options::default());
    // `edge` comes first; `main` has the most Kustomizations.
    let page = get(&state, "/").await.body;
    assert!(page.contains(r#"<a href="/?cluster=main" class="current" aria-current="page">main</a>"#), "the switcher marks another cluster");
    assert!(page.contains("<b>133</b> Kustomizations"), "the page shows another cluster");
    assert!(get(&state, "/?cluster=edge").await.body.contains(r#"class="current" aria-current="page">edge</a>"#));
}

/// A Kustomization's page says what it applies, grouped by kind, each object with the file and line it
/// came from (a link), and its YAML one click away; the section is a page of its own, to share.
#[tokio::test]
async fn an_object_page_says_what_its_kustomization_applies() {
    let state = example();
    let page = get(&state, "/k/Kustomization/flux-system/linkding").await.body;
    assert!(page.contains(r#"<section id="applies" class="applies">"#), "no section");
    assert!(page.contains("<summary>HelmRelease <small>1</small></summary>"), "grouped by kind");
    assert!(page.contains(r#"href="/source/kubernetes/rpi-cluster/apps/home/linkding/app/release.yaml#L2""#), "the origin is a link");
    let share = Regex::new(r#"<a class="share" href="([^"]*)""#).unwrap().captures(&page).unwrap()[1].to_string();
    assert_eq!(share, "/k/Kustomization/flux-system/linkding/applies");
    let alone = get(&state, &share).await;
    assert_eq!(alone.status, StatusCode::OK);
    let yaml_href = Regex::new(r#"<a class="yaml-link" href="([^"]*HelmRelease[^"]*)""#).unwrap().captures(&alone.body).unwrap()[1].replace("&amp;", "&");
    let with_yaml = get(&state, &yaml_href).await.body;
    assert!(with_yaml.contains(r#"<section id="yaml">"#) && with_yaml.contains("chart: app-template"), "{with_yaml}");
    // A source file opens at its line; one the snapshot does not hold is not found.
    let source = get(&state, "/source/kubernetes/rpi-cluster/apps/home/linkding/app/release.yaml").await;
    assert_eq!(source.status, StatusCode::OK);
    assert!(source.body.contains(r#"id="L2""#));
    assert_eq!(get(&state, "/source/nowhere.yaml").await.status, StatusCode::NOT_FOUND);
    // Something that is not a Kustomization built here has no such page.
    assert_eq!(get(&state, "/k/HelmRelease/home/linkding/applies").await.status, StatusCode::NOT_FOUND);
}

/// Each built object says which patches changed it (a link to the patch's entry, and the fields it
/// changed) and which postBuild variables were substituted into it.
#[tokio::test]
async fn the_applies_section_says_which_patches_and_variables_changed_an_object() {
    let state = state_for(&crate::util::repo("patches"), Options::default());
    let page = get(&state, "/k/Kustomization/flux-system/cluster-apps/applies").await.body;
    assert!(page.contains(r#"<span class="patch"><a href="/source/clusters/test/cluster.yaml#L46">clusters/test/cluster.yaml:46</a> <small>spec.dependsOn</small></span>"#), "{page}");
    assert!(page.contains(r#"<a href="/source/apps/kustomization.yaml#L7">apps/kustomization.yaml:7</a>"#), "a kustomization file's patch");
    let state = example();
    let page = get(&state, "/k/Kustomization/flux-system/cilium-gateway/applies").await.body;
    assert!(page.contains(r#"<code class="variable">${GATEWAY_IP}</code> <code class="variable">${CLUSTER_DOMAIN}</code>"#), "{page}");
}
