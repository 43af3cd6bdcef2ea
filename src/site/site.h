/*
 * site.h - the public site: home page with the newest posts, posts, pages, Atom feed,
 * sitemap, contact form, static files of the theme. Handlers build the same jansson
 * models the API answers and render them through the theme's templates.
 *
 * The folder src/site/ owns the public site: pages, feed, sitemap, contact form, the
 * theme, Markdown, page-view counting and rate limits. It may call core/, db/ (readers,
 * writer), store/, tmpl/, http/ (requests) and jobs/ (the contact webhook).
 */
#ifndef ONEFILE_SITE_SITE_H
#define ONEFILE_SITE_SITE_H

struct router;

/* Adds the site's routes; call last: "/{slug}" (pages) matches any one-segment path. */
void site_routes(struct router *rt);
#endif
